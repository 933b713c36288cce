/**
 * Home Assistant MQTT discovery for a motion binary_sensor
 * (https://www.home-assistant.io/integrations/binary_sensor.mqtt/): a retained JSON config on
 * `<discoveryPrefix>/binary_sensor/<object_id>/config`, state ON/OFF on the state topic and
 * online/offline on the availability topic.
 */

export interface DiscoveryInput {
  /** Topic prefix of our own topics, e.g. `glimpser`. */
  topicPrefix: string;
  /** Stream (camera) name. */
  stream: string;
  /** A stable id of the producing node, so two detectors on one stream get distinct entities. */
  nodeId: string;
  /** Home Assistant's discovery prefix; default `homeassistant`. */
  discoveryPrefix?: string;
  /** Entity name shown in Home Assistant; default `Motion`. */
  name?: string;
  /** Package version for device/origin info. */
  version?: string;
}

export interface MqttMessage {
  topic: string;
  /** Text, or raw bytes (a JPEG for the camera entity). */
  payload: string | Buffer;
  retain: boolean;
  qos: 0 | 1 | 2;
}

export const PAYLOAD_ON = 'ON';
export const PAYLOAD_OFF = 'OFF';
export const PAYLOAD_ONLINE = 'online';
export const PAYLOAD_OFFLINE = 'offline';

/** Home Assistant allows only [a-zA-Z0-9_-] in discovery topic ids. */
export function sanitizeId(text: string): string {
  const s = text.trim().toLowerCase().replace(/[^a-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '');
  return s === '' ? 'camera' : s;
}

/** MQTT topic levels must not contain wildcards; `/` inside a stream name would add levels. */
export function topicLevel(text: string): string {
  const s = text.trim().replace(/[+#/\u0000]+/g, '_');
  return s === '' ? 'camera' : s;
}

export function stateTopic(topicPrefix: string, stream: string): string {
  return `${trimSlashes(topicPrefix)}/${topicLevel(stream)}/motion`;
}

export function availabilityTopic(topicPrefix: string, stream: string): string {
  return `${trimSlashes(topicPrefix)}/${topicLevel(stream)}/availability`;
}

/** Score, changed area, regions and bounding box of the current (or last) event, as JSON for Home Assistant. */
export function attributesTopic(topicPrefix: string, stream: string): string {
  return `${stateTopic(topicPrefix, stream)}/attributes`;
}

/** The JPEG that triggered the last motion event, raw bytes, for an MQTT camera entity. */
export function snapshotTopic(topicPrefix: string, stream: string): string {
  return `${trimSlashes(topicPrefix)}/${topicLevel(stream)}/snapshot`;
}

/**
 * The bridge's own online/offline topic: the mqtt-broker node's birth, close and last-will messages go there, so a
 * Node-RED that stops or dies takes every sensor offline even though no node of ours could say so.
 */
export function bridgeStatusTopic(topicPrefix: string): string {
  return `${trimSlashes(topicPrefix)}/status`;
}

function trimSlashes(s: string): string {
  const t = s.trim().replace(/^\/+|\/+$/g, '');
  return t === '' ? 'glimpser' : t;
}

function ids(input: DiscoveryInput): { objectId: string; uniqueId: string; discoveryPrefix: string } {
  const objectId = `glimpser_${sanitizeId(input.stream)}_motion`;
  return { objectId, uniqueId: `${objectId}_${sanitizeId(input.nodeId)}`, discoveryPrefix: trimSlashes(input.discoveryPrefix ?? 'homeassistant') };
}

/** Shared by both entities: the device (one per camera), availability and origin. */
function common(input: DiscoveryInput): Record<string, unknown> {
  const stream = input.stream;
  return {
    // 'latest': the stream's own topic (frames flowing) or the bridge's (Node-RED connected), whichever spoke last.
    availability: [
      { topic: availabilityTopic(input.topicPrefix, stream), payload_available: PAYLOAD_ONLINE, payload_not_available: PAYLOAD_OFFLINE },
      { topic: bridgeStatusTopic(input.topicPrefix), payload_available: PAYLOAD_ONLINE, payload_not_available: PAYLOAD_OFFLINE },
    ],
    availability_mode: 'latest',
    device: {
      identifiers: [`glimpser_${sanitizeId(stream)}`],
      name: deviceName(stream),
      manufacturer: 'node-red-contrib-glimpser',
      model: 'motion-detect',
      ...(input.version ? { sw_version: input.version } : {}),
    },
    origin: {
      name: 'node-red-contrib-glimpser',
      ...(input.version ? { sw_version: input.version } : {}),
    },
  };
}

export function discoveryMessage(input: DiscoveryInput): MqttMessage {
  const { uniqueId, discoveryPrefix } = ids(input);
  const config = {
    name: input.name && input.name.trim() !== '' ? input.name.trim() : 'Motion',
    unique_id: uniqueId,
    device_class: 'motion',
    state_topic: stateTopic(input.topicPrefix, input.stream),
    payload_on: PAYLOAD_ON,
    payload_off: PAYLOAD_OFF,
    json_attributes_topic: attributesTopic(input.topicPrefix, input.stream),
    qos: 1,
    ...common(input),
  };
  return { topic: `${discoveryPrefix}/binary_sensor/${uniqueId}/config`, payload: JSON.stringify(config), retain: true, qos: 1 };
}

/** An MQTT camera entity showing the frame that triggered the last motion event. */
export function cameraDiscoveryMessage(input: DiscoveryInput): MqttMessage {
  const { objectId, discoveryPrefix } = ids(input);
  const uniqueId = `${objectId}_snapshot_${sanitizeId(input.nodeId)}`;
  const config = {
    name: 'Motion snapshot',
    unique_id: uniqueId,
    topic: snapshotTopic(input.topicPrefix, input.stream),
    ...common(input),
  };
  return { topic: `${discoveryPrefix}/camera/${uniqueId}/config`, payload: JSON.stringify(config), retain: true, qos: 1 };
}

export function availabilityMessage(topicPrefix: string, stream: string, online: boolean): MqttMessage {
  return { topic: availabilityTopic(topicPrefix, stream), payload: online ? PAYLOAD_ONLINE : PAYLOAD_OFFLINE, retain: true, qos: 1 };
}

/** The device Home Assistant shows: "Camera <stream>", or the stream's own name when it already says camera ("camera 1"). */
export function deviceName(stream: string): string {
  return /\bcam(era)?\b/i.test(stream) ? stream : `Camera ${stream}`;
}

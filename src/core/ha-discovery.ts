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
  payload: string;
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

function trimSlashes(s: string): string {
  const t = s.trim().replace(/^\/+|\/+$/g, '');
  return t === '' ? 'glimpser' : t;
}

export function discoveryMessage(input: DiscoveryInput): MqttMessage {
  const stream = input.stream;
  const objectId = `glimpser_${sanitizeId(stream)}_motion`;
  const uniqueId = `${objectId}_${sanitizeId(input.nodeId)}`;
  const discoveryPrefix = trimSlashes(input.discoveryPrefix ?? 'homeassistant');
  const config = {
    name: input.name && input.name.trim() !== '' ? input.name.trim() : 'Motion',
    unique_id: uniqueId,
    device_class: 'motion',
    state_topic: stateTopic(input.topicPrefix, stream),
    payload_on: PAYLOAD_ON,
    payload_off: PAYLOAD_OFF,
    availability_topic: availabilityTopic(input.topicPrefix, stream),
    payload_available: PAYLOAD_ONLINE,
    payload_not_available: PAYLOAD_OFFLINE,
    qos: 1,
    device: {
      identifiers: [`glimpser_${sanitizeId(stream)}`],
      name: `Camera ${stream}`,
      manufacturer: 'node-red-contrib-glimpser',
      model: 'motion-detect',
      ...(input.version ? { sw_version: input.version } : {}),
    },
    origin: {
      name: 'node-red-contrib-glimpser',
      ...(input.version ? { sw_version: input.version } : {}),
    },
  };
  return {
    topic: `${discoveryPrefix}/binary_sensor/${uniqueId}/config`,
    payload: JSON.stringify(config),
    retain: true,
    qos: 1,
  };
}

export function availabilityMessage(topicPrefix: string, stream: string, online: boolean): MqttMessage {
  return { topic: availabilityTopic(topicPrefix, stream), payload: online ? PAYLOAD_ONLINE : PAYLOAD_OFFLINE, retain: true, qos: 1 };
}

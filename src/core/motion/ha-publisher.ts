import type { MotionResult } from './detector';
import type { MotionEvent } from './events';
import {
  attributesTopic,
  availabilityMessage,
  cameraDiscoveryMessage,
  discoveryMessage,
  snapshotTopic,
  stateTopic,
  PAYLOAD_OFF,
  PAYLOAD_ON,
  type DiscoveryInput,
  type MqttMessage,
} from './ha-discovery';

/**
 * What a motion detector tells Home Assistant over MQTT, as messages shaped for Node-RED's `mqtt out` node: the
 * retained state, its attributes, availability, discovery (binary_sensor and the snapshot camera entity) and the
 * event's picture. It holds what must be remembered between messages (the stream's name, whether discovery went
 * out for it, online or not, the newest JPEG, a snapshot awaited) and returns messages instead of sending them, so
 * the caller chooses how they leave and a test reads them as they are. Time comes from the caller.
 */

export interface HaPublisherOptions {
  /** Our own topics: `<topicPrefix>/<stream>/motion` and so on. */
  topicPrefix: string;
  /** Home Assistant discovery, availability, attributes and snapshot; off: the state messages only. */
  discovery: boolean;
  discoveryPrefix: string;
  /** The MQTT camera entity with the picture of the last motion start. */
  cameraEntity: boolean;
  /** The newest JPEG as `msg.image` on a motion start. */
  attachImage: boolean;
  /** The binary_sensor's name in Home Assistant (default Motion). */
  sensorName?: string;
  /** The producing node's id: two detectors on one stream get distinct entities. */
  nodeId: string;
  /** The package version, for the device and origin in discovery. */
  version?: string;
  /** Longest wait for a JPEG taken at or after a motion start (the source's low rate is one every 2 s by default). */
  snapshotWaitMs?: number;
}

export type MotionMessageKind = 'discovery' | 'availability' | 'state' | 'motion' | 'attributes' | 'snapshot';

/** An MQTT message for `mqtt out` (topic, payload, qos, retain) with what a flow may want to switch on. */
export interface MotionMessage extends MqttMessage {
  kind: MotionMessageKind;
  /** The stream the message is about ('' while it is not known yet). */
  stream: string;
  /** Why discovery or the state went out: 'deploy' or 'birth'. */
  reason?: string;
  [key: string]: unknown;
}

export interface RegionReport {
  motion: boolean;
  score: number;
  changedArea: number;
}

export const SNAPSHOT_WAIT_MS = 3000;

export class HaPublisher {
  private name: string;
  /** The stream discovery last went out for ('' for none). */
  private announcedFor = '';
  private online = false;
  private lastJpeg: Buffer | undefined;
  /** Time of the frame lastJpeg shows (a source makes JPEGs at a low rate while nobody watches). */
  private lastJpegTime = 0;
  private pendingSnapshot: { since: number; until: number } | undefined;
  private readonly snapshotWaitMs: number;

  constructor(
    private readonly opts: HaPublisherOptions,
    stream = '',
  ) {
    this.name = stream;
    this.snapshotWaitMs = opts.snapshotWaitMs ?? SNAPSHOT_WAIT_MS;
  }

  get stream(): string {
    return this.name;
  }

  /** The stream's name, learned from the frames; the next announce() is for it. */
  set stream(name: string) {
    this.name = name;
  }

  /** Discovery went out for the current stream. */
  get announced(): boolean {
    return this.name !== '' && this.announcedFor === this.name;
  }

  get isOnline(): boolean {
    return this.online;
  }

  /**
   * Discovery, availability and the current state: what Home Assistant needs after a deploy, or after it (or the
   * broker) restarted and may have lost every retained message.
   */
  announce(active: boolean, reason: string): MotionMessage[] {
    if (!this.opts.discovery || !this.name) return [];
    const stream = this.name;
    const input = this.discoveryInput();
    const out: MotionMessage[] = [{ ...discoveryMessage(input), kind: 'discovery', reason, stream }];
    if (this.opts.cameraEntity) out.push({ ...cameraDiscoveryMessage(input), kind: 'discovery', reason, stream });
    if (this.online) out.push(this.availability(true));
    out.push({ ...this.state(active), kind: 'state', reason });
    this.announcedFor = stream;
    return out;
  }

  /** Frames flow (online) or stopped (offline); a message only on a change. */
  setOnline(value: boolean): MotionMessage[] {
    if (this.online === value) return [];
    this.online = value;
    return this.opts.discovery && this.name ? [this.availability(value)] : [];
  }

  /**
   * A motion start or end: the state with the event's details, its attributes and, on a start, the snapshot (or a
   * wait for a JPEG taken at or after the start, which jpeg() or tick() completes). `result` is the frame's result
   * (null for an end without a frame: quiet after the stream stopped, a reset); `peakScore` the event's highest.
   */
  event(ev: MotionEvent, result: MotionResult | null, peakScore: number, now: number): MotionMessage[] {
    const start = ev.kind === 'start';
    const r = result;
    const regions: Record<string, RegionReport> = {};
    if (r) for (const rr of r.regions) regions[rr.name] = { motion: start && rr.motion, score: round(rr.score), changedArea: rr.changedArea };
    const msg = this.state(start);
    msg.score = r && start ? round(r.score) : round(peakScore);
    msg.changedArea = r && start ? r.changedArea : 0;
    msg.regions = regions;
    msg.bbox = r && r.bbox && start ? { x: round(r.bbox.x), y: round(r.bbox.y), w: round(r.bbox.w), h: round(r.bbox.h) } : null;
    msg.frameTime = ev.time;
    msg.event = ev.kind === 'end' ? { reason: ev.reason, startedAt: ev.startedAt, peakScore: round(peakScore) } : { startedAt: ev.time };
    if (this.opts.attachImage && start && this.lastJpeg) msg.image = this.lastJpeg;
    const out = [msg];
    if (!this.opts.discovery || !this.name) return out;
    const attributes = { score: msg.score, changed_area: msg.changedArea, regions, bbox: msg.bbox, event: msg.event };
    out.push({ topic: attributesTopic(this.opts.topicPrefix, this.name), payload: JSON.stringify(attributes), retain: true, qos: 1, kind: 'attributes', stream: this.name });
    if (this.opts.cameraEntity && start) {
      // The picture for the camera entity shows the event: a JPEG taken at or after its first frame. While nobody
      // watches, the source makes one every couple of seconds, so the snapshot may follow the ON by that much.
      if (this.lastJpeg && this.lastJpegTime >= ev.time) out.push(this.snapshot(this.lastJpeg));
      else this.pendingSnapshot = { since: ev.time, until: now + this.snapshotWaitMs };
    }
    return out;
  }

  /** A JPEG came: it is the event's snapshot if one is awaited. */
  jpeg(jpeg: Buffer, time: number): MotionMessage[] {
    this.lastJpeg = jpeg;
    this.lastJpegTime = time;
    if (!this.pendingSnapshot || time < this.pendingSnapshot.since) return [];
    this.pendingSnapshot = undefined;
    return [this.snapshot(jpeg)];
  }

  /** Called periodically: an awaited snapshot whose wait is over is the newest JPEG there is. */
  tick(now: number): MotionMessage[] {
    if (!this.pendingSnapshot || now < this.pendingSnapshot.until) return [];
    this.pendingSnapshot = undefined;
    return this.lastJpeg && this.name ? [this.snapshot(this.lastJpeg)] : [];
  }

  /** The node is deleted: the event under way ends (`end`, from MotionEvents.reset) and the sensor goes offline. */
  removed(end: MotionEvent | null, peakScore: number, now: number): MotionMessage[] {
    const out = end ? this.event(end, null, peakScore, now) : [];
    if (this.opts.discovery && this.name) out.push(this.availability(false));
    return out;
  }

  // Retained, so Home Assistant (or a broker that lost its store) gets the true state as soon as it subscribes.
  private state(on: boolean): MotionMessage {
    return { topic: stateTopic(this.opts.topicPrefix, this.name || 'camera'), payload: on ? PAYLOAD_ON : PAYLOAD_OFF, retain: true, qos: 1, kind: 'motion', stream: this.name };
  }

  private availability(online: boolean): MotionMessage {
    return { ...availabilityMessage(this.opts.topicPrefix, this.name, online), kind: 'availability', stream: this.name };
  }

  private snapshot(jpeg: Buffer): MotionMessage {
    return { topic: snapshotTopic(this.opts.topicPrefix, this.name), payload: jpeg, retain: true, qos: 1, kind: 'snapshot', stream: this.name };
  }

  private discoveryInput(): DiscoveryInput {
    const o = this.opts;
    return { topicPrefix: o.topicPrefix, stream: this.name, nodeId: o.nodeId, discoveryPrefix: o.discoveryPrefix, name: o.sensorName, version: o.version };
  }
}

function round(v: number): number {
  return Math.round(v * 10000) / 10000;
}

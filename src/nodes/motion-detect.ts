import { boxKey } from '../core/ffmpeg/options';
import {
  attributesTopic,
  availabilityMessage,
  bridgeStatusTopic,
  cameraDiscoveryMessage,
  discoveryMessage,
  snapshotTopic,
  stateTopic,
  PAYLOAD_OFF,
  PAYLOAD_ON,
  type MqttMessage,
} from '../core/motion/ha-discovery';
import { DETECT_BUCKETS_MS, Histogram } from '../core/util/histogram';
import { decodeGray } from '../core/jpeg/jpeg-gray';
import { MotionDetector, GrayFrameError, type MotionResult } from '../core/motion/detector';
import { MotionEvents, type MotionEvent } from '../core/motion/events';
import { parseRegions, type Region } from '../core/motion/roi';
import { rangeMessage, readNumbers, trimmed, type Translate } from './config';
import { MOTION_RULES } from './field-rules';
import { lifecycleOf, settingsHash } from './lifecycle';
import { poolHandleFor } from './pool-handle';
import type { Node, NodeDef, NodeMessage, NodeRedRuntime } from './red-types';
import { findStream } from './stream-ref';
import { statusText } from './status-text';

export interface MotionDetectConfig {
  name?: string;
  stream?: string;
  analysisWidth?: number | string;
  analysisHeight?: number | string;
  pixelThreshold?: number | string;
  minArea?: number | string;
  noiseFactor?: number | string;
  startFrames?: number | string;
  quietSeconds?: number | string;
  cooldownSeconds?: number | string;
  staleSeconds?: number | string;
  regions?: string;
  topicPrefix?: string;
  discovery?: boolean;
  discoveryPrefix?: string;
  haStatusTopic?: string;
  discoveryDelay?: number | string;
  sensorName?: string;
  attachImage?: boolean;
  cameraEntity?: boolean;
}

/** What a motion-detect node knows that must outlive a redeploy of the unchanged node (an event under way, above all). */
interface Session {
  detector: MotionDetector;
  events: MotionEvents;
  stream: string;
  discoverySentFor: string;
  online: boolean;
  lastResult: MotionResult | null;
  lastFrameTime: number;
  lastJpeg: Buffer | undefined;
  /** Time of the frame lastJpeg shows (a source makes JPEGs at a low rate while nobody watches). */
  lastJpegTime: number;
  frames: number;
  skipped: number;
  msPerFrame: number;
  detectMs: Histogram;
}

/** Editor-only properties: moving a node or rewiring it does not change what it does. */
const LAYOUT_KEYS = new Set(['x', 'y', 'z', 'g', 'w', 'h', 'wires', 'l', '_users']);

interface GrayInput {
  data?: unknown;
  width?: unknown;
  height?: unknown;
  time?: unknown;
}

const STATUS_INTERVAL_MS = 1000;
/** Longest wait for a JPEG taken at or after a motion start (the source's low rate is every 2 s by default). */
const SNAPSHOT_WAIT_MS = 3000;
const PKG_VERSION: string = (() => {
  try {
    return (require('../../package.json') as { version: string }).version;
  } catch {
    return '';
  }
})();


/** Keeps the valid regions and reports each invalid one, so one typo does not stop detection. */
function parseRegionsLenient(text: unknown, _: Translate): { regions: Region[]; errors: string[] } {
  let list: unknown;
  const wholeFrame = (problem: string): string => _('motion-detect.errors.regionsWholeFrame', { problem });
  try {
    list = typeof text === 'string' && text.trim() !== '' ? JSON.parse(text) : [];
  } catch (err) {
    return { regions: [], errors: [wholeFrame(_('motion-detect.errors.regionsJson', { message: (err as Error).message }))] };
  }
  if (!Array.isArray(list)) return { regions: [], errors: [wholeFrame(_('motion-detect.errors.regionsArray'))] };
  const errors: string[] = [];
  const ok: unknown[] = [];
  list.forEach((r, i) => {
    try {
      parseRegions([r]);
      ok.push(r && typeof r === 'object' && !(r as { name?: unknown }).name ? { ...(r as object), name: `region${i + 1}` } : r);
    } catch (err) {
      errors.push(_('motion-detect.errors.regionIgnored', { problem: (err as Error).message.replace(/^regions\[0\]/, `regions[${i}]`) }));
    }
  });
  try {
    return { regions: parseRegions(ok), errors };
  } catch (err) {
    return { regions: [], errors: [...errors, wholeFrame((err as Error).message)] };
  }
}

module.exports = function register(RED: NodeRedRuntime): void {
  function MotionDetectNode(this: Node, config: MotionDetectConfig & NodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const lifecycle = lifecycleOf(RED);
    const { values, problems } = readNumbers(config, MOTION_RULES);
    // Refused settings: each is reported, and the node asks for no frames and sends nothing until they are fixed.
    const refused = problems.map((p) => rangeMessage(RED._, 'motion-detect', p));
    for (const message of refused) node.error(message);
    const box = { width: values.analysisWidth, height: values.analysisHeight };
    const myGray = boxKey(box);
    const { regions, errors: regionErrors } = parseRegionsLenient(config.regions, RED._);
    for (const e of regionErrors) node.error(e);
    const topicPrefix = trimmed(config.topicPrefix) || 'glimpser';
    const discovery = config.discovery !== false;
    const discoveryPrefix = trimmed(config.discoveryPrefix) || 'homeassistant';
    const haStatusTopic = trimmed(config.haStatusTopic) || 'homeassistant/status';
    const bridgeTopic = bridgeStatusTopic(topicPrefix);
    const discoveryDelayMs = values.discoveryDelay * 1000;
    const attachImage = config.attachImage === true;
    const cameraEntity = config.cameraEntity !== false;
    const configuredStream = trimmed(config.stream);

    // Redeployed unchanged, the node carries on where its predecessor was: same background, same event, nothing re-sent.
    const parkKey = `motion:${node.id}`;
    const hash = settingsHash(Object.fromEntries(Object.entries(config).filter(([k]) => !LAYOUT_KEYS.has(k))));
    const s: Session = lifecycle.take<Session>(parkKey, hash) ?? {
      detector: new MotionDetector({
        pixelThreshold: values.pixelThreshold,
        minArea: values.minArea,
        noiseFactor: values.noiseFactor,
        regions,
      }),
      events: new MotionEvents({
        startFrames: values.startFrames,
        quietMs: values.quietSeconds * 1000,
        cooldownMs: values.cooldownSeconds * 1000,
        staleMs: values.staleSeconds * 1000,
      }),
      stream: configuredStream,
      discoverySentFor: '',
      online: false,
      lastResult: null,
      lastFrameTime: 0,
      lastJpeg: undefined,
      lastJpegTime: 0,
      frames: 0,
      skipped: 0,
      msPerFrame: 0,
      detectMs: new Histogram(DETECT_BUCKETS_MS),
    };
    const { detector, events } = s;

    // The stream we analyse makes gray frames of exactly our size for us, whoever else watches it.
    const ref = findStream(RED, config, configuredStream);
    const handle = ref ? poolHandleFor(RED, ref.poolId) : undefined;
    handle?.register(node);
    const owner = ref && handle ? handle.pool.stream(ref.name) : undefined;
    if (ref && !s.stream) s.stream = ref.name;
    if (refused.length === 0) owner?.use(node.id, { gray: box }, () => ({ detectMs: s.detectMs }));
    owner?.reportMotion(node.id, events.isActive);

    let discoveryDue = false;
    let pendingSnapshot: { since: number; until: number } | undefined;
    let decoding = false;
    let lastStatusAt = 0;
    let lastError = refused[0] ?? (regionErrors.length > 0 ? RED._('motion-detect.status.badRegions') : '');
    let closed = false;

    function mqtt(m: MqttMessage, extra: Record<string, unknown>): NodeMessage {
      return { topic: m.topic, payload: m.payload, retain: m.retain, qos: m.qos, ...extra };
    }

    function discoveryInput(): Parameters<typeof discoveryMessage>[0] {
      return { topicPrefix, stream: s.stream, nodeId: node.id, discoveryPrefix, name: config.sensorName, version: PKG_VERSION };
    }

    /** Discovery, availability and the current state: what Home Assistant needs after it (or the broker) restarted. */
    function sendDiscovery(reason: string): void {
      if (!discovery || !s.stream || closed || refused.length > 0) return;
      const out: NodeMessage[] = [mqtt(discoveryMessage(discoveryInput()), { kind: 'discovery', reason, stream: s.stream })];
      if (cameraEntity) out.push(mqtt(cameraDiscoveryMessage(discoveryInput()), { kind: 'discovery', reason, stream: s.stream }));
      if (s.online) out.push(mqtt(availabilityMessage(topicPrefix, s.stream, true), { kind: 'availability', stream: s.stream }));
      out.push({ ...stateMessage(events.isActive), kind: 'state', reason });
      s.discoverySentFor = s.stream;
      for (const m of out) node.send(m);
    }

    function setOnline(value: boolean): void {
      if (s.online === value) return;
      s.online = value;
      if (discovery && s.stream) node.send(mqtt(availabilityMessage(topicPrefix, s.stream, value), { kind: 'availability', stream: s.stream }));
    }

    // Retained, so Home Assistant (or a broker that lost its store) gets the true state as soon as it subscribes.
    function stateMessage(on: boolean): NodeMessage {
      return { topic: stateTopic(topicPrefix, s.stream || 'camera'), payload: on ? PAYLOAD_ON : PAYLOAD_OFF, retain: true, qos: 1, kind: 'motion', stream: s.stream };
    }

    function eventMessages(ev: MotionEvent, r: MotionResult | null): NodeMessage[] {
      const msg = stateMessage(ev.kind === 'start');
      const regionsOut: Record<string, { motion: boolean; score: number; changedArea: number }> = {};
      if (r) for (const rr of r.regions) regionsOut[rr.name] = { motion: ev.kind === 'start' && rr.motion, score: round(rr.score), changedArea: rr.changedArea };
      msg.score = r && ev.kind === 'start' ? round(r.score) : round(events.peakScore);
      msg.changedArea = r && ev.kind === 'start' ? r.changedArea : 0;
      msg.regions = regionsOut;
      msg.bbox = r && r.bbox && ev.kind === 'start' ? { x: round(r.bbox.x), y: round(r.bbox.y), w: round(r.bbox.w), h: round(r.bbox.h) } : null;
      msg.frameTime = ev.time;
      msg.event = ev.kind === 'end' ? { reason: ev.reason, startedAt: ev.startedAt, peakScore: round(events.peakScore) } : { startedAt: ev.time };
      if (attachImage && ev.kind === 'start' && s.lastJpeg) msg.image = s.lastJpeg;
      const out = [msg];
      if (!discovery || !s.stream) return out;
      const attributes = { score: msg.score, changed_area: msg.changedArea, regions: regionsOut, bbox: msg.bbox, event: msg.event };
      out.push({ topic: attributesTopic(topicPrefix, s.stream), payload: JSON.stringify(attributes), retain: true, qos: 1, kind: 'attributes', stream: s.stream });
      if (cameraEntity && ev.kind === 'start') {
        // The picture for the camera entity shows the event: a JPEG taken at or after its first frame. While nobody
        // watches, the source makes one every couple of seconds, so the snapshot may follow the ON by that much.
        if (s.lastJpeg && s.lastJpegTime >= ev.time) out.push(snapshotMessage(s.lastJpeg));
        else pendingSnapshot = { since: ev.time, until: Date.now() + SNAPSHOT_WAIT_MS };
      }
      return out;
    }

    function snapshotMessage(jpeg: Buffer): NodeMessage {
      return { topic: snapshotTopic(topicPrefix, s.stream), payload: jpeg, retain: true, qos: 1, kind: 'snapshot', stream: s.stream };
    }

    /** A JPEG came: it is the event's snapshot if one is awaited (or the wait is over and it is the best there is). */
    function jpegArrived(jpeg: Buffer, time: number): void {
      s.lastJpeg = jpeg;
      s.lastJpegTime = time;
      if (pendingSnapshot && time >= pendingSnapshot.since) {
        pendingSnapshot = undefined;
        node.send(snapshotMessage(jpeg));
      }
    }

    function emitEvent(ev: MotionEvent, r: MotionResult | null): void {
      owner?.reportMotion(node.id, ev.kind === 'start');
      for (const m of eventMessages(ev, r)) node.send(m);
      showStatus(Date.now(), true);
    }

    function showStatus(now: number, force = false): void {
      if (!force && now - lastStatusAt < STATUS_INTERVAL_MS) return;
      lastStatusAt = now;
      if (lastError) {
        node.status({ fill: 'red', shape: 'ring', text: statusText(lastError) });
        return;
      }
      const score = s.lastResult ? (s.lastResult.score * 100).toFixed(1) : '0.0';
      const state = RED._(events.isActive ? 'motion-detect.status.motion' : s.lastResult?.learning ? 'motion-detect.status.learning' : 'motion-detect.status.noMotion');
      node.status({ fill: events.isActive ? 'blue' : 'green', shape: 'dot', text: RED._('motion-detect.status.detecting', { state, score, ms: s.msPerFrame.toFixed(2) }) });
    }

    function analyse(data: Uint8Array, width: number, height: number, time: number): void {
      const t0 = process.hrtime.bigint();
      const r = detector.detect(data, width, height);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      s.msPerFrame = s.frames === 0 ? ms : s.msPerFrame * 0.95 + ms * 0.05;
      s.detectMs.observe(ms);
      s.frames++;
      s.lastResult = r;
      s.lastFrameTime = time;
      lastError = '';
      setOnline(true);
      const ev = events.frame(r.motion, time, r.score);
      if (ev) emitEvent(ev, r);
      else showStatus(Date.now());
    }

    function learnStream(msg: NodeMessage): void {
      if (configuredStream) return;
      const frame = msg.frame as { stream?: unknown } | undefined;
      const name = typeof frame?.stream === 'string' && frame.stream !== '' ? frame.stream : typeof msg.topic === 'string' && msg.topic !== '' ? msg.topic : '';
      if (!name || name === s.stream) return;
      if (s.stream) node.warn(RED._('motion-detect.warnings.streamChanged', { from: s.stream, to: name }));
      s.stream = name;
      if (discoveryDue && s.discoverySentFor !== s.stream) sendDiscovery('deploy');
    }

    /** Our gray frame in a message: a map by box key (from an ffmpeg-source), or one frame (from other nodes). */
    function grayOf(msg: NodeMessage): GrayInput | undefined {
      const g = msg.gray as (GrayInput & Record<string, unknown>) | undefined;
      if (!g || typeof g !== 'object') return undefined;
      if ('data' in g) return g;
      const mine = g[myGray];
      return mine && typeof mine === 'object' ? (mine as GrayInput) : undefined;
    }

    // An unchanged node taken over from before a deploy has announced itself already.
    const discoveryTimer = setTimeout(() => {
      discoveryDue = true;
      if (s.discoverySentFor !== s.stream || !s.stream) sendDiscovery('deploy');
    }, discoveryDelayMs);

    const tickTimer = setInterval(() => {
      const now = Date.now();
      if (pendingSnapshot && now >= pendingSnapshot.until) {
        pendingSnapshot = undefined;
        if (s.lastJpeg && s.stream) node.send(snapshotMessage(s.lastJpeg));
      }
      const ev = events.tick(now);
      if (ev) emitEvent(ev, null);
      if (s.online && s.lastFrameTime > 0 && now - s.lastFrameTime >= events.opts.staleMs) {
        setOnline(false);
        node.status({ fill: 'yellow', shape: 'ring', text: RED._('motion-detect.status.noFrames') });
      }
    }, 1000);

    showStatus(Date.now(), true);

    node.on('input', (msg, _send, done) => {
      if (msg.topic === haStatusTopic || msg.topic === bridgeTopic) {
        // Home Assistant or our broker connection came back: the broker may have lost every retained message.
        if (String(msg.payload).trim().toLowerCase() === 'online') sendDiscovery('birth');
        done();
        return;
      }
      // Refused settings were reported at deploy and the status stays red; frames are dropped meanwhile.
      if (refused.length > 0) return done();
      learnStream(msg);
      const frame = msg.frame as { gray?: unknown; time?: unknown } | undefined;
      const gray = grayOf(msg);
      const time = typeof gray?.time === 'number' ? gray.time : typeof frame?.time === 'number' ? frame.time : Date.now();
      if (Buffer.isBuffer(msg.payload)) jpegArrived(msg.payload, time);
      if (gray) {
        try {
          const width = Number(gray.width);
          const height = Number(gray.height);
          MotionDetector.check(gray.data as Uint8Array, width, height);
          analyse(gray.data as Uint8Array, width, height, time);
          done();
        } catch (err) {
          events.alive(time);
          lastError = (err as Error).message;
          showStatus(Date.now(), true);
          done(new Error(RED._(err instanceof GrayFrameError ? 'motion-detect.errors.gray' : 'motion-detect.errors.detect', { message: (err as Error).message })));
        }
        return;
      }
      if (Array.isArray(frame?.gray) || msg.gray !== undefined) {
        // From a source that makes gray frames, but not (yet) ours, e.g. while its process switches outputs:
        // skip rather than decode the JPEG, which would cost far more CPU than the frame is worth.
        s.skipped++;
        events.alive(time);
        done();
        return;
      }
      if (Buffer.isBuffer(msg.payload)) {
        if (decoding) {
          // One decode at a time: a slow decoder drops frames instead of queueing them.
          s.skipped++;
          events.alive(time);
          done();
          return;
        }
        decoding = true;
        const jpeg = msg.payload;
        // The JPEG's luma at the analysis size, as a source's gray output would give it (one decode at a time).
        decodeGray(jpeg, box).then(
          (g) => {
            decoding = false;
            if (closed) return done();
            jpegArrived(jpeg, time);
            analyse(g.data, g.width, g.height, time);
            done();
          },
          (err: Error) => {
            decoding = false;
            events.alive(time);
            lastError = RED._('motion-detect.status.notDecodable', { message: err.message });
            showStatus(Date.now(), true);
            done(new Error(RED._('motion-detect.errors.notDecodable', { message: err.message })));
          },
        );
        return;
      }
      done(new Error(RED._('motion-detect.errors.noInput')));
    });

    node.on('close', (removed, done) => {
      closed = true;
      clearTimeout(discoveryTimer);
      clearInterval(tickTimer);
      if (removed) {
        // Deleted: the sensor goes OFF and offline. A partial deploy leaves the mqtt out node downstream running, and
        // it sends them now; a full deploy stops it together with this node, so its successor gets them once the
        // flows have started and its broker has had the discovery delay to connect, as discovery has at a deploy (an
        // mqtt out drops what it gets while disconnected). A node that did not restart has them already.
        const last: NodeMessage[] = [];
        const end = events.reset(Date.now());
        if (end) last.push(...eventMessages(end, null));
        if (discovery && s.stream) last.push(mqtt(availabilityMessage(topicPrefix, s.stream, false), { kind: 'availability', stream: s.stream }));
        for (const m of last) node.send(m);
        const targets = [...new Set((config.wires ?? []).flat())];
        const before = new Map(targets.map((id) => [id, RED.nodes.getNode(id)]));
        if (last.length > 0 && !lifecycle.stopping) {
          lifecycle.afterStart(() => {
            const deliver = (): void => {
              for (const id of targets) {
                const successor = RED.nodes.getNode(id);
                if (successor && successor !== before.get(id)) for (const m of last) successor.receive({ ...m });
              }
            };
            setTimeout(deliver, discoveryDelayMs).unref?.();
          });
        }
      }
      const mode = removed || lifecycle.stopping ? 'now' : 'handover';
      if (mode === 'handover') lifecycle.park(parkKey, hash, s, () => undefined);
      owner?.unuse(node.id, mode);
      node.status({});
      if (handle) handle.deregister(node, done, removed);
      else done();
    });

    // For tests and diagnostics.
    (node as unknown as { motionStats: () => object }).motionStats = () => ({ frames: s.frames, skipped: s.skipped, msPerFrame: s.msPerFrame, stream: s.stream, active: events.isActive });
  }

  RED.nodes.registerType('glimpser-motion-detect', MotionDetectNode);
};

function round(v: number): number {
  return Math.round(v * 10000) / 10000;
}

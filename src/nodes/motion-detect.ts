import { MotionDetector, GrayFrameError, type MotionResult } from '../core/motion-detector';
import { MotionEvents, type MotionEvent } from '../core/motion-events';
import { parseRegions, type Region } from '../core/roi';
import { analysisBox, clampNumber, trimmed } from './config';
import type { Node, NodeDef, NodeMessage, NodeRedRuntime } from './red-types';
import { availabilityMessage, discoveryMessage, stateTopic, PAYLOAD_OFF, PAYLOAD_ON, type MqttMessage } from '../core/ha-discovery';

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
}

interface GrayInput {
  data?: unknown;
  width?: unknown;
  height?: unknown;
  time?: unknown;
}

const STATUS_INTERVAL_MS = 1000;
const PKG_VERSION: string = (() => {
  try {
    return (require('../../package.json') as { version: string }).version;
  } catch {
    return '';
  }
})();


/** Keeps the valid regions and reports each invalid one, so one typo does not stop detection. */
function parseRegionsLenient(text: unknown): { regions: Region[]; errors: string[] } {
  let list: unknown;
  try {
    list = typeof text === 'string' && text.trim() !== '' ? JSON.parse(text) : [];
  } catch (err) {
    return { regions: [], errors: [`regions: not valid JSON (${(err as Error).message}); using the whole frame`] };
  }
  if (!Array.isArray(list)) return { regions: [], errors: ['regions: expected an array of {name, type, points}; using the whole frame'] };
  const errors: string[] = [];
  const ok: unknown[] = [];
  list.forEach((r, i) => {
    try {
      parseRegions([r]);
      ok.push(r && typeof r === 'object' && !(r as { name?: unknown }).name ? { ...(r as object), name: `region${i + 1}` } : r);
    } catch (err) {
      errors.push(`${(err as Error).message.replace(/^regions\[0\]/, `regions[${i}]`)}; region ignored`);
    }
  });
  try {
    return { regions: parseRegions(ok), errors };
  } catch (err) {
    return { regions: [], errors: [...errors, `${(err as Error).message}; using the whole frame`] };
  }
}

module.exports = function register(RED: NodeRedRuntime): void {
  function MotionDetectNode(this: Node, config: MotionDetectConfig & NodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const { width: analysisWidth, height: analysisHeight } = analysisBox(config);
    const { regions, errors: regionErrors } = parseRegionsLenient(config.regions);
    for (const e of regionErrors) node.error(e);
    const detector = new MotionDetector({
      pixelThreshold: clampNumber(config.pixelThreshold, 0.08, 0.005, 0.9),
      minArea: clampNumber(config.minArea, 80, 1, 1e6),
      noiseFactor: clampNumber(config.noiseFactor, 3, 0, 20),
      regions,
    });
    const events = new MotionEvents({
      startFrames: clampNumber(config.startFrames, 3, 1, 100),
      quietMs: clampNumber(config.quietSeconds, 5, 0, 3600) * 1000,
      cooldownMs: clampNumber(config.cooldownSeconds, 1, 0, 3600) * 1000,
      staleMs: clampNumber(config.staleSeconds, 10, 1, 3600) * 1000,
    });
    const topicPrefix = trimmed(config.topicPrefix) || 'glimpser';
    const discovery = config.discovery !== false;
    const discoveryPrefix = trimmed(config.discoveryPrefix) || 'homeassistant';
    const haStatusTopic = trimmed(config.haStatusTopic) || 'homeassistant/status';
    const discoveryDelayMs = clampNumber(config.discoveryDelay, 2, 0, 60) * 1000;
    const attachImage = config.attachImage === true;
    const configuredStream = trimmed(config.stream);

    let stream = configuredStream;
    let discoveryDue = false;
    let discoverySentFor = '';
    let online = false;
    let lastResult: MotionResult | null = null;
    let lastFrameTime = 0;
    let lastJpeg: Buffer | undefined;
    let decoding = false;
    let msPerFrame = 0;
    let frames = 0;
    let skipped = 0;
    let lastStatusAt = 0;
    let lastError = regionErrors.length > 0 ? 'bad regions' : '';
    let sharpLib: typeof import('sharp') | undefined;
    let closed = false;

    function mqtt(m: MqttMessage, extra: Record<string, unknown>): NodeMessage {
      return { topic: m.topic, payload: m.payload, retain: m.retain, qos: m.qos, ...extra };
    }

    function sendDiscovery(reason: string): void {
      if (!discovery || !stream || closed) return;
      const d = discoveryMessage({ topicPrefix, stream, nodeId: node.id, discoveryPrefix, name: config.sensorName, version: PKG_VERSION });
      const out: NodeMessage[] = [mqtt(d, { kind: 'discovery', reason, stream })];
      if (online) out.push(mqtt(availabilityMessage(topicPrefix, stream, true), { kind: 'availability', stream }));
      // After a Home Assistant restart the state would read "unknown" until the next event.
      if (reason === 'birth') out.push(stateMessage(events.isActive));
      discoverySentFor = stream;
      for (const m of out) node.send(m);
    }

    function setOnline(value: boolean): void {
      if (online === value) return;
      online = value;
      if (discovery && stream) node.send(mqtt(availabilityMessage(topicPrefix, stream, value), { kind: 'availability', stream }));
    }

    function stateMessage(on: boolean): NodeMessage {
      return { topic: stateTopic(topicPrefix, stream || 'camera'), payload: on ? PAYLOAD_ON : PAYLOAD_OFF, retain: false, qos: 1, kind: 'motion', stream };
    }

    function eventMessage(ev: MotionEvent, r: MotionResult | null): NodeMessage {
      const msg = stateMessage(ev.kind === 'start');
      const regionsOut: Record<string, { motion: boolean; score: number; changedArea: number }> = {};
      if (r) for (const rr of r.regions) regionsOut[rr.name] = { motion: ev.kind === 'start' && rr.motion, score: round(rr.score), changedArea: rr.changedArea };
      msg.score = r && ev.kind === 'start' ? round(r.score) : round(events.peakScore);
      msg.changedArea = r && ev.kind === 'start' ? r.changedArea : 0;
      msg.regions = regionsOut;
      msg.bbox = r && r.bbox && ev.kind === 'start' ? { x: round(r.bbox.x), y: round(r.bbox.y), w: round(r.bbox.w), h: round(r.bbox.h) } : null;
      msg.frameTime = ev.time;
      msg.event = ev.kind === 'end' ? { reason: ev.reason, startedAt: ev.startedAt, peakScore: round(events.peakScore) } : { startedAt: ev.time };
      if (attachImage && ev.kind === 'start' && lastJpeg) msg.image = lastJpeg;
      return msg;
    }

    function showStatus(now: number, force = false): void {
      if (!force && now - lastStatusAt < STATUS_INTERVAL_MS) return;
      lastStatusAt = now;
      if (lastError) {
        node.status({ fill: 'red', shape: 'ring', text: lastError.slice(0, 60) });
        return;
      }
      const score = lastResult ? (lastResult.score * 100).toFixed(1) : '0.0';
      const state = events.isActive ? 'motion' : lastResult?.learning ? 'learning' : 'no motion';
      node.status({ fill: events.isActive ? 'blue' : 'green', shape: 'dot', text: `${state} ${score}% ${msPerFrame.toFixed(2)} ms/frame` });
    }

    function analyse(data: Uint8Array, width: number, height: number, time: number): void {
      const t0 = process.hrtime.bigint();
      const r = detector.detect(data, width, height);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      msPerFrame = frames === 0 ? ms : msPerFrame * 0.95 + ms * 0.05;
      frames++;
      lastResult = r;
      lastFrameTime = time;
      lastError = '';
      setOnline(true);
      const ev = events.frame(r.motion, time, r.score);
      if (ev) {
        node.send(eventMessage(ev, r));
        showStatus(Date.now(), true);
      } else {
        showStatus(Date.now());
      }
    }

    function learnStream(msg: NodeMessage): void {
      if (configuredStream) return;
      const frame = msg.frame as { stream?: unknown } | undefined;
      const name = typeof frame?.stream === 'string' && frame.stream !== '' ? frame.stream : typeof msg.topic === 'string' && msg.topic !== '' ? msg.topic : '';
      if (!name || name === stream) return;
      if (stream) node.warn(`stream name changed from "${stream}" to "${name}": set a stream name in the node to pin it`);
      stream = name;
      if (discoveryDue && discoverySentFor !== stream) sendDiscovery('deploy');
    }

    async function decodeJpeg(buf: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
      // sharp loads libvips: only when this slower path is used.
      if (!sharpLib) sharpLib = (await import('sharp')).default as unknown as typeof import('sharp');
      const { data, info } = await sharpLib(buf, { failOn: 'error' })
        .resize(analysisWidth, analysisHeight, { fit: 'inside', fastShrinkOnLoad: true })
        .toColourspace('b-w')
        .raw()
        .toBuffer({ resolveWithObject: true });
      if (info.channels !== 1) throw new Error(`decoded JPEG has ${info.channels} channels`);
      return { data, width: info.width, height: info.height };
    }

    const discoveryTimer = setTimeout(() => {
      discoveryDue = true;
      sendDiscovery('deploy');
    }, discoveryDelayMs);

    const tickTimer = setInterval(() => {
      const now = Date.now();
      const ev = events.tick(now);
      if (ev) {
        node.send(eventMessage(ev, null));
        showStatus(now, true);
      }
      if (online && lastFrameTime > 0 && now - lastFrameTime >= events.opts.staleMs) {
        setOnline(false);
        node.status({ fill: 'yellow', shape: 'ring', text: 'no frames' });
      }
    }, 1000);

    showStatus(Date.now(), true);

    node.on('input', (msg, _send, done) => {
      if (msg.topic === haStatusTopic) {
        if (String(msg.payload).trim().toLowerCase() === 'online') sendDiscovery('birth');
        done();
        return;
      }
      learnStream(msg);
      const frame = msg.frame as { grayOn?: unknown; time?: unknown } | undefined;
      const gray = msg.gray as GrayInput | undefined;
      const time = typeof gray?.time === 'number' ? gray.time : typeof frame?.time === 'number' ? frame.time : Date.now();
      if (Buffer.isBuffer(msg.payload)) lastJpeg = msg.payload;
      if (gray && typeof gray === 'object') {
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
          done(err instanceof GrayFrameError ? err : new Error(`motion-detect: ${(err as Error).message}`));
        }
        return;
      }
      if (frame?.grayOn === true) {
        // The two FFmpeg pipes are not synchronised: this JPEG's gray twin is missing. Skip it
        // rather than decode the JPEG, which would cost far more CPU than the frame is worth.
        skipped++;
        events.alive(time);
        done();
        return;
      }
      if (Buffer.isBuffer(msg.payload)) {
        if (decoding) {
          // One decode at a time: a slow decoder drops frames instead of queueing them.
          skipped++;
          events.alive(time);
          done();
          return;
        }
        decoding = true;
        const jpeg = msg.payload;
        decodeJpeg(jpeg).then(
          (g) => {
            decoding = false;
            if (closed) return done();
            lastJpeg = jpeg;
            analyse(g.data, g.width, g.height, time);
            done();
          },
          (err: Error) => {
            decoding = false;
            events.alive(time);
            lastError = `JPEG did not decode: ${err.message}`;
            showStatus(Date.now(), true);
            done(new Error(`motion-detect: msg.payload is not a decodable JPEG (${err.message})`));
          },
        );
        return;
      }
      done(new Error('motion-detect: expected msg.gray (from glimpser-ffmpeg-source) or a JPEG Buffer in msg.payload'));
    });

    node.on('close', (_removed, done) => {
      closed = true;
      clearTimeout(discoveryTimer);
      clearInterval(tickTimer);
      events.reset(Date.now());
      node.status({});
      done();
    });

    // For tests and diagnostics.
    (node as unknown as { motionStats: () => object }).motionStats = () => ({ frames, skipped, msPerFrame, stream, active: events.isActive });
  }

  RED.nodes.registerType('glimpser-motion-detect', MotionDetectNode);
};

function round(v: number): number {
  return Math.round(v * 10000) / 10000;
}

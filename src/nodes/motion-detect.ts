import { decodeGray } from '../core/jpeg/jpeg-gray';
import { MotionDetector, GrayFrameError, type MotionResult } from '../core/motion/detector';
import { MotionEvents, type MotionEvent } from '../core/motion/events';
import { HaPublisher, type MotionMessage } from '../core/motion/ha-publisher';
import type { StateChange } from '../core/stream/stream';
import { DETECT_BUCKETS_MS, Histogram } from '../core/util/histogram';
import { ReportLimiter } from '../core/util/report-limiter';
import { lifecycleOf } from './lifecycle';
import { planInput } from './motion-input';
import { errorReportMs } from './config';
import { motionSettings, type MotionDetectConfig } from './motion-settings';
import { motionStatus } from './motion-status';
import { poolHandleFor } from './pool-handle';
import type { DoneFn, Node, NodeDef, NodeMessage, NodeRedRuntime, SendFn } from './red-types';
import { findStream } from './stream-ref';

/** What a motion-detect node knows that must outlive a redeploy of the unchanged node (an event under way, above all). */
interface Session {
  detector: MotionDetector;
  events: MotionEvents;
  publisher: HaPublisher;
  lastResult: MotionResult | null;
  lastFrameTime: number;
  frames: number;
  msPerFrame: number;
  detectMs: Histogram;
}

const STATUS_INTERVAL_MS = 1000;
/**
 * How long frames of our stream may come without our gray size (its outputs switching) before their JPEGs are
 * decoded instead: a camera that cannot make it (or a node on the wire that drops it) must not stop motion.
 */
const SWITCH_GRACE_MS = 5000;
const PKG_VERSION: string = (() => {
  try {
    return (require('../../package.json') as { version: string }).version;
  } catch {
    return '';
  }
})();

function register(RED: NodeRedRuntime): void {
  function MotionDetectNode(this: Node, config: MotionDetectConfig & NodeDef): void {
    RED.nodes.createNode(this, config);
    const node = this;
    const lifecycle = lifecycleOf(RED);
    const settings = motionSettings(config, RED._);
    const { values, refused, regionErrors, box } = settings;
    // Refused settings: each is reported, and the node asks for no frames and sends nothing until they are fixed.
    for (const message of refused) node.error(message);
    for (const e of regionErrors) node.error(e);

    // Redeployed unchanged, the node carries on where its predecessor was: same background, same event, nothing re-sent.
    const parkKey = `motion:${node.id}`;
    const s: Session = lifecycle.take<Session>(parkKey, settings.hash) ?? {
      detector: new MotionDetector({
        pixelThreshold: values.pixelThreshold,
        minArea: values.minArea,
        noiseFactor: values.noiseFactor,
        regions: settings.regions,
      }),
      events: new MotionEvents({
        startFrames: values.startFrames,
        quietMs: values.quietSeconds * 1000,
        cooldownMs: values.cooldownSeconds * 1000,
        staleMs: values.staleSeconds * 1000,
      }),
      publisher: new HaPublisher({ ...settings.publisher, nodeId: node.id, version: PKG_VERSION }, settings.stream),
      lastResult: null,
      lastFrameTime: 0,
      frames: 0,
      msPerFrame: 0,
      detectMs: new Histogram(DETECT_BUCKETS_MS),
    };
    const { detector, events, publisher } = s;

    // The stream we analyse makes gray frames of exactly our size for us, whoever else watches it.
    const ref = findStream(RED, config, settings.stream);
    const handle = ref ? poolHandleFor(RED, ref.poolId) : undefined;
    handle?.register(node);
    const owner = ref && handle ? handle.pool.stream(ref.name) : undefined;
    if (ref && !publisher.stream) publisher.stream = ref.name;
    const demandedFrom = refused.length === 0 && owner ? owner.name : undefined;
    if (demandedFrom !== undefined) owner?.use(node.id, { gray: box }, () => ({ detectMs: s.detectMs }));
    owner?.reportMotion(node.id, events.isActive);

    let discoveryDue = false;
    let decoding = false;
    let closed = false;
    /** Since when frames of our stream came without our gray size (undefined: ours came last). */
    let skippingSince: number | undefined;
    // What the status shows (motion-status.ts): the camera's fault, the last frame's error, frames gone stale.
    let camera: { state: StateChange['state']; reason: string | undefined; since: number } | undefined;
    let lastAnalysedAt = 0;
    let frameError = '';
    let stale = false;
    const warning = regionErrors.length > 0 ? RED._('motion-detect.status.badRegions') : undefined;
    let lastStatusAt = 0;
    let lastStatusKey = '';
    const errors = new ReportLimiter(errorReportMs(RED.settings));

    const out = (send: SendFn, messages: MotionMessage[]): void => {
      for (const m of messages) send(m);
    };

    function announce(send: SendFn, reason: string): void {
      if (closed || refused.length > 0) return;
      out(send, publisher.announce(events.isActive, reason));
    }

    function emitEvent(send: SendFn, ev: MotionEvent, r: MotionResult | null): void {
      owner?.reportMotion(node.id, ev.kind === 'start');
      out(send, publisher.event(ev, r, events.peakScore, Date.now()));
      showStatus(true);
    }

    /** The status now; a change of colour or shape shows at once, a new score at most once a second. */
    function showStatus(force = false): void {
      const now = Date.now();
      const status = motionStatus(
        {
          refused: refused[0],
          // The latest news wins: a fault the camera reported after our last analysed frame.
          camera: camera && camera.since >= lastAnalysedAt ? camera : undefined,
          frameError,
          noFrames: stale,
          waiting: s.lastResult === null,
          warning,
          active: events.isActive,
          learning: s.lastResult?.learning === true,
          score: s.lastResult?.score ?? 0,
          msPerFrame: s.msPerFrame,
        },
        RED._,
      );
      const look = `${status.fill}|${status.shape}`;
      const key = `${look}|${status.text}`;
      if (key === lastStatusKey) return;
      if (!force && lastStatusKey.startsWith(`${look}|`) && now - lastStatusAt < STATUS_INTERVAL_MS) return;
      lastStatusAt = now;
      lastStatusKey = key;
      node.status(status);
    }

    // A refused or failed camera shows here too, not only on the camera node: a green "no motion" would say all is well.
    const onState = (change: StateChange): void => {
      const fault = change.state === 'failed' || change.state === 'recovering';
      camera = fault ? { state: change.state, reason: change.reason, since: Date.now() } : undefined;
      showStatus(true);
    };
    if (demandedFrom !== undefined && owner) {
      owner.on('state', onState);
      const now = owner.stateInfo;
      if (now.state === 'failed' || now.state === 'recovering') camera = { state: now.state, reason: now.reason, since: Date.now() };
    }

    function analyse(send: SendFn, data: Uint8Array, width: number, height: number, time: number): void {
      const t0 = process.hrtime.bigint();
      const r = detector.detect(data, width, height);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      s.msPerFrame = s.frames === 0 ? ms : s.msPerFrame * 0.95 + ms * 0.05;
      s.detectMs.observe(ms);
      s.frames++;
      s.lastResult = r;
      s.lastFrameTime = time;
      lastAnalysedAt = Date.now();
      frameError = '';
      stale = false;
      out(send, publisher.setOnline(true));
      const ev = events.frame(r.motion, time, r.score);
      if (ev) emitEvent(send, ev, r);
      else showStatus();
    }

    /**
     * A frame that could not be analysed: its error stays in the status until a frame is, and reaches the log and
     * Catch nodes once per period with how many more there were (done() without an error for those held back).
     */
    function frameFailed(done: DoneFn, time: number | undefined, shown: string | undefined, err: Error): void {
      // A frame that came keeps the stuck-ON safety quiet, even when it could not be analysed; a non-frame does not.
      if (time !== undefined) events.alive(time);
      if (shown !== undefined) {
        frameError = shown;
        showStatus(true);
      }
      const held = errors.offer();
      if (held === undefined) return done();
      done(held > 0 ? new Error(RED._('motion-detect.errors.repeated', { message: err.message, count: held })) : err);
    }

    function learnStream(send: SendFn, msg: NodeMessage): void {
      if (settings.stream) return;
      const frame = msg.frame as { stream?: unknown } | undefined;
      const name = typeof frame?.stream === 'string' && frame.stream !== '' ? frame.stream : typeof msg.topic === 'string' && msg.topic !== '' ? msg.topic : '';
      if (!name || name === publisher.stream) return;
      if (publisher.stream) node.warn(RED._('motion-detect.warnings.streamChanged', { from: publisher.stream, to: name }));
      publisher.stream = name;
      if (discoveryDue && !publisher.announced) announce(send, 'deploy');
    }

    /** The JPEG's luma at the analysis size, as a source's gray output would give it (one decode at a time). */
    function decode(send: SendFn, done: DoneFn, jpeg: Buffer, time: number): void {
      if (decoding) {
        // A slow decoder drops frames instead of queueing them.
        events.alive(time);
        return done();
      }
      decoding = true;
      decodeGray(jpeg, box).then(
        (g) => {
          decoding = false;
          if (closed) return done();
          out(send, publisher.jpeg(jpeg, time));
          analyse(send, g.data, g.width, g.height, time);
          done();
        },
        (err: Error) => {
          decoding = false;
          if (closed) return done();
          frameFailed(done, time, RED._('motion-detect.status.notDecodable', { message: err.message }), new Error(RED._('motion-detect.errors.notDecodable', { message: err.message })));
        },
      );
    }

    // An unchanged node taken over from before a deploy has announced itself already.
    const discoveryTimer = setTimeout(() => {
      discoveryDue = true;
      if (!publisher.announced) announce(node.send.bind(node), 'deploy');
    }, settings.discoveryDelayMs);

    const tickTimer = setInterval(() => {
      const now = Date.now();
      const send = node.send.bind(node);
      out(send, publisher.tick(now));
      const ev = events.tick(now);
      if (ev) emitEvent(send, ev, null);
      if (publisher.isOnline && s.lastFrameTime > 0 && now - s.lastFrameTime >= events.opts.staleMs) {
        out(send, publisher.setOnline(false));
        stale = true;
      }
      // Shows what the once-a-second limit held back.
      showStatus();
    }, 1000);

    showStatus(true);

    node.on('input', (msg, send, done) => {
      if (msg.topic === settings.haStatusTopic || msg.topic === settings.bridgeTopic) {
        // Home Assistant or our broker connection came back: the broker may have lost every retained message.
        if (String(msg.payload).trim().toLowerCase() === 'online') announce(send, 'birth');
        done();
        return;
      }
      // Refused settings were reported at deploy and the status stays red; frames are dropped meanwhile.
      if (refused.length > 0) return done();
      learnStream(send, msg);
      const plan = planInput(msg, { grayKey: settings.grayKey, box, demandedFrom });
      if (plan.use === 'invalid') return frameFailed(done, undefined, undefined, new Error(RED._('motion-detect.errors.noInput')));
      const time = plan.time ?? Date.now();
      if (Buffer.isBuffer(msg.payload)) out(send, publisher.jpeg(msg.payload, time));
      switch (plan.use) {
        case 'gray':
          skippingSince = undefined;
          try {
            MotionDetector.check(plan.data, plan.width, plan.height);
            analyse(send, plan.data, plan.width, plan.height, time);
            done();
          } catch (err) {
            const message = (err as Error).message;
            frameFailed(done, time, message, new Error(RED._(err instanceof GrayFrameError ? 'motion-detect.errors.gray' : 'motion-detect.errors.detect', { message })));
          }
          return;
        case 'skip': {
          // Our stream, while its outputs switch: our size comes with the next frames, and a JPEG decode costs far
          // more CPU than the frame is worth. Unless that has lasted too long.
          const now = Date.now();
          skippingSince ??= now;
          if (now - skippingSince < SWITCH_GRACE_MS || !Buffer.isBuffer(msg.payload)) {
            events.alive(time);
            return done();
          }
          return decode(send, done, msg.payload, time);
        }
        case 'jpeg':
          return decode(send, done, plan.jpeg, time);
        case 'nothing':
          events.alive(time);
          return done();
      }
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
        const now = Date.now();
        const last = publisher.removed(events.reset(now), events.peakScore, now);
        out(node.send.bind(node), last);
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
            setTimeout(deliver, settings.discoveryDelayMs).unref?.();
          });
        }
      }
      owner?.off('state', onState);
      const mode = removed || lifecycle.stopping ? 'now' : 'handover';
      if (mode === 'handover') lifecycle.park(parkKey, settings.hash, s, () => undefined);
      owner?.unuse(node.id, mode);
      node.status({});
      if (handle) handle.deregister(node, done, removed);
      else done();
    });
  }

  RED.nodes.registerType('glimpser-motion-detect', MotionDetectNode);
}

export = register;

import { detectKind } from '../core/ffmpeg/source-url';
import { displaySource, type CaptureOptions } from '../core/ffmpeg/options';
import type { AccelProvider, ReadMode, StateChange, StreamFrame } from '../core/stream/model';
import type { Frame } from '../core/types';
import { rangeMessage, readNumbers, trimmed } from './config';
import { SOURCE_RULES } from './field-rules';
import type { HwaccelConfigNode } from './hwaccel-settings';
import { lifecycleOf } from './lifecycle';
import { poolHandleFor } from './pool-handle';
import type { DoneFn, Node, NodeDef, NodeMessage, NodeRedRuntime, SendFn } from './red-types';
import { STATE_FILL } from './state-fill';
import { streamNameOf } from './stream-ref';
import { statusText } from './status-text';

interface FfmpegSourceDef extends NodeDef {
  pool?: string;
  source?: string;
  fps?: string | number;
  width?: string | number;
  quality?: string | number;
  lowFps?: string | number;
  startMode?: 'always' | 'demand';
  loop?: boolean;
  snapshotTimeout?: string | number;
  /** auto: MJPEG-over-HTTP cameras read without FFmpeg; ffmpeg: always FFmpeg; passthrough: always our HTTP client. */
  mode?: 'auto' | 'ffmpeg' | 'passthrough';
  /** A camera's sub-stream for motion: gray frames from it, JPEG from the main source. */
  detectSource?: string;
  hwaccel?: string;
}

type Credentials = Record<string, string | undefined> & { username?: string; password?: string };

/** Our nodes say what they need themselves; any other node wired to a source gets every frame as JPEG. */
const DEMAND_AWARE = new Set(['glimpser-mjpeg-out', 'glimpser-motion-detect', 'glimpser-stream-health']);
const STATUS_INTERVAL_MS = 2000;
/** Query parameters that carry secrets in camera URLs. */
const QUERY_SECRET = /[?&;](password|passwd|pass|pwd|token|access_token|auth|key|api_?key|secret)=[^&#]+/i;


const MODES = ['auto', 'ffmpeg', 'passthrough'];

/** The warning a source URL deserves for carrying a secret, if it does: its catalog key and substitutions. */
function urlSecretWarning(source: string): { key: string; subs: Record<string, string> } | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/i.test(source)) return { key: 'ffmpeg-source.warnings.passwordInUrl', subs: {} };
  const m = QUERY_SECRET.exec(source);
  // Only the parameter's name: its value is the secret.
  if (m) return { key: 'ffmpeg-source.warnings.secretInQuery', subs: { param: m[1]! } };
  return undefined;
}

/** Types of the nodes wired to this node's output. */
function wiredTypes(RED: NodeRedRuntime, def: NodeDef): string[] {
  const targets = new Set((def.wires ?? []).flat());
  const types: string[] = [];
  if (targets.size === 0) return types;
  RED.nodes.eachNode((n) => {
    if (targets.has(n.id)) types.push(n.type);
  });
  return types;
}

function register(RED: NodeRedRuntime): void {
  function FfmpegSource(this: Node<Credentials>, def: FfmpegSourceDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const name = streamNameOf(def);
    const lifecycle = lifecycleOf(RED);
    const handle = poolHandleFor(RED, trimmed(def.pool) || undefined);
    handle.register(node);

    const { values, problems } = readNumbers(def, SOURCE_RULES);
    const capture: CaptureOptions = {
      source: trimmed(def.source),
      username: node.credentials?.username || undefined,
      password: node.credentials?.password || undefined,
      fps: values.fps,
      width: values.width || undefined,
      quality: values.quality,
      loop: def.loop !== false,
    };
    const lowFps = values.lowFps;
    const detectSource = trimmed(def.detectSource);
    const snapshotTimeoutMs = values.snapshotTimeout * 1000;
    const flowConsumes = wiredTypes(RED, def).some((t) => !DEMAND_AWARE.has(t));
    // From a flow file the field may hold anything, or be absent (flows saved before it existed).
    const rawMode: unknown = def.mode;
    const mode = typeof rawMode === 'string' && rawMode !== '' ? rawMode : 'auto';

    // Refused settings: the node reports each one and defines no stream.
    const refused = problems.map((p) => rangeMessage(RED._, 'ffmpeg-source', p));
    if (!MODES.includes(mode)) refused.push(RED._('ffmpeg-source.errors.mode', { mode: String(mode) }));
    if (handle.configError) refused.push(RED._('ffmpeg-source.errors.pool', { message: handle.configError }));
    let configError: string | undefined = refused.length > 0 ? refused.join('; ') : undefined;
    let detect: CaptureOptions | undefined;
    for (const url of [capture.source, detectSource]) {
      const warning = url ? urlSecretWarning(url) : undefined;
      if (warning) node.warn(RED._(warning.key, warning.subs));
    }
    if (!configError) {
      try {
        capture.kind = detectKind(capture.source);
        // Forced pass-through is checked here (an http(s) camera only); auto and FFmpeg modes read an http(s) camera with
        // our own client first and go by what it answers (src/core/stream/camera-access.ts).
        capture.passthrough = mode === 'passthrough';
        if (detectSource) detect = { ...capture, source: detectSource, kind: detectKind(detectSource), passthrough: false, width: undefined };
      } catch (err) {
        configError = RED._('ffmpeg-source.errors.source', { message: (err as Error).message });
      }
    }

    // Hardware decoding: the plan comes from probing the FFmpeg this pool runs, once (cached per binary).
    const hw = trimmed(def.hwaccel) ? (RED.nodes.getNode(trimmed(def.hwaccel)) as HwaccelConfigNode | null) : null;
    if (trimmed(def.hwaccel) && !hw) node.warn(RED._('ffmpeg-source.warnings.hwaccelMissing', { stream: name, id: trimmed(def.hwaccel) }));
    const accel: AccelProvider | undefined = hw && mode !== 'passthrough'
      ? {
          key: `${hw.id}|${hw.mode}|${hw.device ?? ''}|${JSON.stringify(hw.fallbackOptions)}`,
          resolve: () =>
            handle.pool.ffmpeg().then((b) => hw.plan(b.path)).then((r) => {
              if (r.note) node.warn(RED._('ffmpeg-source.warnings.hwaccel', { stream: name, note: r.note }));
              return r;
            }),
          fallback: (plan) => hw.createFallback(plan),
        }
      : undefined;

    const stream = handle.pool.stream(name);
    if (!configError) {
      try {
        stream.define(node.id, { capture, lowFps, read: mode as ReadMode, ...(detect ? { detect } : {}), ...(accel ? { accel } : {}) });
      } catch (err) {
        configError = RED._('ffmpeg-source.errors.source', { message: (err as Error).message });
      }
    }

    const frameInfo = (f: { seq: number; time: number }, jpeg: Buffer | undefined, gray: string[]): NodeMessage['frame'] =>
      ({ stream: name, seq: f.seq, time: f.time, size: jpeg?.length ?? 0, jpeg: jpeg !== undefined, gray });

    const onFrame = (f: StreamFrame): void => {
      const gray = Object.keys(f.gray);
      const msg: NodeMessage = { topic: name, payload: f.jpeg, frame: frameInfo(f, f.jpeg, gray) };
      if (gray.length > 0) msg.gray = f.gray;
      if (f.thumbs) msg.thumbs = f.thumbs;
      node.send(msg);
    };

    let statusTimer: NodeJS.Timeout | undefined;
    const showStatus = (): void => {
      const { state, reason } = stream.stateInfo;
      if (state === 'idle') {
        node.status({ fill: 'grey', shape: 'ring', text: RED._(def.startMode === 'demand' ? 'ffmpeg-source.status.idleOnDemand' : 'ffmpeg-source.status.idle') });
        return;
      }
      let text = RED._(`ffmpeg-source.status.${state}`);
      if (state === 'healthy' || state === 'degraded') {
        const s = stream.snapshot();
        const thinned = s.outputs.jpegEvery > 1 && s.expectedFps > 0;
        const seconds = thinned ? Number((s.outputs.jpegEvery / s.expectedFps).toFixed(1)) : 0;
        // Nobody needs every frame: the camera makes stills (and gray frames for motion), which is no fault.
        if (thinned && s.outputs.gray.length === 0 && state === 'healthy') text = RED._('ffmpeg-source.status.stillsOnly', { seconds });
        else if (thinned && s.outputs.gray.length > 0) text = RED._('ffmpeg-source.status.withStills', { state: text, fps: s.fps.toFixed(1), seconds });
        else text = RED._('ffmpeg-source.status.withFps', { state: text, fps: s.fps.toFixed(1) });
      }
      if (state !== 'healthy' && reason) text = RED._('ffmpeg-source.status.withReason', { state: text, reason });
      node.status({ fill: STATE_FILL[state], shape: state === 'healthy' ? 'dot' : 'ring', text: statusText(text) });
    };
    const onNote = (level: 'info' | 'warn', text: string): void => {
      if (level === 'warn') node.warn(RED._('ffmpeg-source.warnings.note', { stream: name, text }));
      else node.log(RED._('ffmpeg-source.log.note', { stream: name, text }));
    };
    let lastDegraded: string | undefined;
    const onState = (change: StateChange): void => {
      showStatus();
      const about = { stream: name, reason: change.reason };
      if (change.state === 'failed' && change.reason) node.error(RED._('ffmpeg-source.errors.failed', about));
      else if (change.state === 'recovering' && change.reason) node.warn(RED._('ffmpeg-source.warnings.recovering', about));
      // Once per reason: a fallback to software stays degraded for a long time.
      else if (change.state === 'degraded' && change.reason && change.reason !== lastDegraded) node.warn(RED._('ffmpeg-source.warnings.degraded', about));
      if (change.state === 'degraded') lastDegraded = change.reason;
      clearInterval(statusTimer);
      statusTimer = change.state === 'idle' ? undefined : setInterval(showStatus, STATUS_INTERVAL_MS);
    };

    if (configError) {
      // Its users (viewers, motion, health) see the camera failed with this reason, not an idle stream.
      stream.refuse(node.id, configError);
      node.status({ fill: 'red', shape: 'ring', text: statusText(configError) });
      for (const message of refused.length > 0 ? refused : [configError]) node.error(message);
    } else {
      stream.on('frame', onFrame);
      stream.on('state', onState);
      stream.on('note', onNote);
      node.log(RED._('ffmpeg-source.log.source', { stream: name, source: displaySource(capture) }));
      // Always on: run. Flows of other nodes consume frames: every frame as JPEG. Else our consumers say what they need.
      stream.use(node.id, { run: def.startMode !== 'demand', jpeg: flowConsumes ? 'full' : 'low' });
      onState(stream.stateInfo);
    }

    node.on('input', (msg: NodeMessage, nodeSend: SendFn, done: DoneFn) => {
      if (configError) {
        done(new Error(configError));
        return;
      }
      const reply = (frame: Frame): void => {
        msg.topic = name;
        msg.payload = frame.data;
        msg.frame = frameInfo(frame, frame.data, []);
        msg.snapshot = true;
        nodeSend(msg);
        done();
      };
      const latest = stream.latest();
      if (latest) {
        reply(latest);
        return;
      }
      // No frame yet (on demand and idle, or still starting): hold a demand until the first JPEG or the timeout.
      const user = `${node.id}:snapshot:${msg._msgid ?? Math.random()}`;
      const finish = (frame?: Frame): void => {
        clearTimeout(timer);
        stream.off('frame', onSnapshot);
        stream.unuse(user, 'grace');
        if (frame) reply(frame);
        else done(new Error(RED._('ffmpeg-source.errors.snapshotTimeout', { stream: name, seconds: snapshotTimeoutMs / 1000, state: RED._(`ffmpeg-source.status.${stream.state}`) })));
      };
      const onSnapshot = (f: StreamFrame): void => {
        if (f.jpeg) finish({ data: f.jpeg, seq: f.seq, time: f.time });
      };
      const timer = setTimeout(() => finish(), snapshotTimeoutMs);
      stream.on('frame', onSnapshot);
      stream.use(user, { run: true });
    });

    node.on('close', (removed: boolean, done: () => void) => {
      clearInterval(statusTimer);
      stream.off('frame', onFrame);
      stream.off('state', onState);
      stream.off('note', onNote);
      // Redeployed unchanged, the successor takes the stream over with its process still running.
      const mode = removed || lifecycle.stopping ? 'now' : 'handover';
      stream.unuse(node.id, mode);
      stream.undefine(node.id, mode);
      handle.deregister(node, () => {
        if (removed) node.status({});
        done();
      }, removed);
    });
  }

  RED.nodes.registerType('glimpser-ffmpeg-source', FfmpegSource, {
    credentials: { username: { type: 'text' }, password: { type: 'password' } },
  });
}

export = register;

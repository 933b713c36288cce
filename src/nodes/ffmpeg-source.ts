import { detectKind, displaySource, type CaptureOptions } from '../core/ffmpeg-args';
import type { AccelProvider, StateChange, StreamFrame } from '../core/stream';
import type { Frame, StreamState } from '../core/types';
import { clampNumber, trimmed } from './config';
import type { HwaccelConfigNode } from './hwaccel-config';
import { lifecycleOf } from './lifecycle';
import { poolHandleFor } from './pool-handle';
import type { DoneFn, Node, NodeDef, NodeMessage, NodeRedRuntime, NodeStatus, SendFn } from './red-types';
import { streamNameOf } from './stream-ref';

export interface FfmpegSourceDef extends NodeDef {
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

const STATUS_FILL: Record<StreamState, NodeStatus['fill']> = {
  idle: 'grey',
  starting: 'yellow',
  healthy: 'green',
  degraded: 'yellow',
  recovering: 'yellow',
  failed: 'red',
};

/** The warning a source URL deserves for carrying a secret, if it does. */
export function urlSecretWarning(source: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/i.test(source)) {
    return `the source URL carries a password: move it to the node's password field, which Node-RED stores as a credential`;
  }
  const m = QUERY_SECRET.exec(source);
  if (m) {
    return `the source URL carries a secret in its query string ("${m[1]}="): Node-RED stores the flow in clear text; ` +
      `prefer a camera user with the password in the node's credential fields`;
  }
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

module.exports = function register(RED: NodeRedRuntime): void {
  function FfmpegSource(this: Node<Credentials>, def: FfmpegSourceDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const name = streamNameOf(def);
    const lifecycle = lifecycleOf(RED);
    const handle = poolHandleFor(RED, trimmed(def.pool) || undefined);
    handle.register(node);

    const capture: CaptureOptions = {
      source: trimmed(def.source),
      username: node.credentials?.username || undefined,
      password: node.credentials?.password || undefined,
      fps: clampNumber(def.fps, 10, 0.1, 60),
      width: Math.round(clampNumber(def.width, 0, 0, 7680)) || undefined,
      quality: Math.round(clampNumber(def.quality, 5, 2, 31)),
      loop: def.loop !== false,
    };
    const lowFps = clampNumber(def.lowFps, 0.5, 0, 60);
    const detectSource = trimmed(def.detectSource);
    const snapshotTimeoutMs = clampNumber(def.snapshotTimeout, 10, 1, 120) * 1000;
    const flowConsumes = wiredTypes(RED, def).some((t) => !DEMAND_AWARE.has(t));

    let configError: string | undefined;
    let detect: CaptureOptions | undefined;
    try {
      capture.kind = detectKind(capture.source);
      const mode = def.mode ?? 'auto';
      capture.passthrough = mode === 'passthrough' || (mode === 'auto' && capture.kind === 'mjpeg-http');
      for (const url of [capture.source, detectSource]) {
        const warning = url ? urlSecretWarning(url) : undefined;
        if (warning) node.warn(warning);
      }
      if (detectSource) detect = { ...capture, source: detectSource, kind: detectKind(detectSource), passthrough: false, width: undefined };
    } catch (err) {
      configError = (err as Error).message;
    }

    // Hardware decoding: the plan comes from probing the FFmpeg this pool runs, once (cached per binary).
    const hw = trimmed(def.hwaccel) ? (RED.nodes.getNode(trimmed(def.hwaccel)) as HwaccelConfigNode | null) : null;
    const accel: AccelProvider | undefined = hw && !capture.passthrough
      ? {
          key: `${hw.id}|${hw.mode}|${hw.device ?? ''}|${JSON.stringify(hw.fallbackOptions)}`,
          resolve: () =>
            handle.pool.ffmpeg().then((b) => hw.plan(b.path)).then((r) => {
              if (r.note) node.warn(`${name}: ${r.note}`);
              return r;
            }),
          fallback: (plan) => hw.createFallback(plan),
        }
      : undefined;

    const stream = handle.pool.stream(name);
    if (!configError) {
      try {
        stream.define(node.id, { capture, lowFps, ...(detect ? { detect } : {}), ...(accel ? { accel } : {}) });
      } catch (err) {
        configError = (err as Error).message;
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
        node.status({ fill: 'grey', shape: 'ring', text: def.startMode === 'demand' ? 'idle (on demand)' : 'idle' });
        return;
      }
      let text: string = state;
      if (state === 'healthy' || state === 'degraded') text += ` · ${stream.snapshot().fps.toFixed(1)} fps`;
      if (state !== 'healthy' && reason) text += `: ${reason}`;
      if (text.length > 80) text = `${text.slice(0, 77)}…`;
      node.status({ fill: STATUS_FILL[state], shape: state === 'healthy' ? 'dot' : 'ring', text });
    };
    let lastDegraded: string | undefined;
    const onState = (change: StateChange): void => {
      showStatus();
      if (change.state === 'failed' && change.reason) node.error(`${name}: ${change.reason}`);
      else if (change.state === 'recovering' && change.reason) node.warn(`${name}: ${change.reason}`);
      // Once per reason: a fallback to software stays degraded for a long time.
      else if (change.state === 'degraded' && change.reason && change.reason !== lastDegraded) node.warn(`${name}: ${change.reason}`);
      if (change.state === 'degraded') lastDegraded = change.reason;
      clearInterval(statusTimer);
      statusTimer = change.state === 'idle' ? undefined : setInterval(showStatus, STATUS_INTERVAL_MS);
    };

    if (configError) {
      node.status({ fill: 'red', shape: 'ring', text: configError.slice(0, 80) });
      node.error(configError);
    } else {
      stream.on('frame', onFrame);
      stream.on('state', onState);
      node.log(`source ${name}: ${displaySource(capture)}`);
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
        else done(new Error(`${name}: no frame within ${snapshotTimeoutMs / 1000} s (state ${stream.state})`));
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
};

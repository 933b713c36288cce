import { EventEmitter } from 'node:events';
import { detectKind, displaySource, type CaptureOptions } from '../core/ffmpeg-args';
import type { Lease, ProcessPool } from '../core/pool';
import { sourceRegistry, type SourceHandle } from '../core/source-registry';
import type { Stream } from '../core/stream';
import type { Frame, GrayFrame, StreamState } from '../core/types';
import { analysisBox, clampNumber, trimmed } from './config';
import { acquireDefaultPool, releaseDefaultPool } from './default-pool';
import type { DoneFn, Node, NodeDef, NodeMessage, NodeRedRuntime, NodeStatus, SendFn } from './red-types';
import type { ProcessPoolNode } from './process-pool';

export interface FfmpegSourceDef extends NodeDef {
  pool?: string;
  source?: string;
  fps?: string | number;
  width?: string | number;
  quality?: string | number;
  startMode?: 'always' | 'demand';
  loop?: boolean;
  snapshotTimeout?: string | number;
}

type Credentials = Record<string, string | undefined> & { username?: string; password?: string };

export const MOTION_TYPE = 'glimpser-motion-detect';
const STATUS_INTERVAL_MS = 2000;

const STATUS_FILL: Record<StreamState, NodeStatus['fill']> = {
  idle: 'grey',
  starting: 'yellow',
  healthy: 'green',
  degraded: 'yellow',
  recovering: 'yellow',
  failed: 'red',
};

/**
 * The gray output is sized for the largest analysis box among the motion-detect nodes wired directly to this
 * source; none wired means no second output at all.
 */
export function motionBoxFor(def: NodeDef, eachNode: (cb: (d: NodeDef) => void) => void): { width: number; height: number } | undefined {
  const downstream = new Set((def.wires ?? []).flat());
  if (downstream.size === 0) return undefined;
  let box: { width: number; height: number } | undefined;
  eachNode((d) => {
    if (d.type !== MOTION_TYPE || !downstream.has(d.id)) return;
    const { width, height } = analysisBox(d);
    box = box ? { width: Math.max(box.width, width), height: Math.max(box.height, height) } : { width, height };
  });
  return box;
}

/**
 * The node's side of a stream: demand from consumers (viewers, motion, snapshots) turns into one pool lease;
 * frames turn into messages. Registered so that consumer nodes can find it by id.
 */
class SourceController extends EventEmitter implements SourceHandle {
  private readonly consumers = new Set<string>();
  private lease: Lease | undefined;
  private pendingGray: GrayFrame | undefined;
  private closed = false;
  private readonly onFrame = (frame: Frame): void => this.handleFrame(frame);
  private readonly onGray = (gray: GrayFrame): void => {
    this.pendingGray = gray;
  };
  private readonly onState = (state: StreamState, reason: string | undefined): void => {
    this.emit('state', state, reason);
  };

  constructor(
    readonly id: string,
    readonly name: string,
    private readonly pool: ProcessPool,
    private readonly capture: CaptureOptions,
    private readonly permanent: boolean,
    private readonly emitFrame: (frame: Frame, gray: GrayFrame | undefined, grayOn: boolean) => void,
  ) {
    super();
  }

  get stream(): Stream | undefined {
    return this.lease?.stream;
  }

  state(): StreamState {
    return this.lease?.stream.state ?? 'idle';
  }

  lastError(): string | undefined {
    return this.lease?.stream.stats().lastError;
  }

  latest(): Frame | undefined {
    return this.lease?.stream.latest();
  }

  acquire(consumerId: string): void {
    this.consumers.add(consumerId);
    this.update();
  }

  release(consumerId: string): void {
    this.consumers.delete(consumerId);
    this.update();
  }

  start(): void {
    this.update();
  }

  close(removed: boolean): void {
    this.closed = true;
    this.consumers.clear();
    this.update(removed);
  }

  private update(immediate = false): void {
    const wanted = !this.closed && (this.permanent || this.consumers.size > 0);
    if (wanted && !this.lease) {
      const lease = this.pool.acquire(this.capture);
      this.lease = lease;
      lease.stream.on('frame', this.onFrame);
      lease.stream.on('gray', this.onGray);
      lease.stream.on('state', this.onState);
      this.emit('state', lease.stream.state, undefined);
    } else if (!wanted && this.lease) {
      const lease = this.lease;
      this.lease = undefined;
      this.pendingGray = undefined;
      lease.stream.off('frame', this.onFrame);
      lease.stream.off('gray', this.onGray);
      lease.stream.off('state', this.onState);
      lease.release(immediate);
      this.emit('state', 'idle', undefined);
    }
  }

  private handleFrame(frame: Frame): void {
    // The two pipes are not synchronised: the newest gray frame rides on the next JPEG message.
    const gray = this.pendingGray;
    this.pendingGray = undefined;
    this.emitFrame(frame, gray, !!this.capture.gray);
    this.emit('frame', frame);
  }
}

module.exports = function register(RED: NodeRedRuntime): void {
  function FfmpegSource(this: Node<Credentials>, def: FfmpegSourceDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const name = trimmed(def.name) || trimmed(def.source).replace(/^.*[/:@]/, '') || node.id;
    const poolNode = def.pool ? (RED.nodes.getNode(def.pool) as ProcessPoolNode | null) : null;
    const pool = poolNode?.pool ?? acquireDefaultPool(node.id, (m) => node.log(m), (m) => node.error(m));
    poolNode?.register(node);

    const capture: CaptureOptions = {
      source: trimmed(def.source),
      username: node.credentials?.username || undefined,
      password: node.credentials?.password || undefined,
      fps: clampNumber(def.fps, 10, 0.1, 60),
      width: Math.round(clampNumber(def.width, 0, 0, 7680)) || undefined,
      quality: Math.round(clampNumber(def.quality, 5, 2, 31)),
      loop: def.loop !== false,
      gray: motionBoxFor(def, (cb) => RED.nodes.eachNode(cb)),
    };
    const snapshotTimeoutMs = clampNumber(def.snapshotTimeout, 10, 1, 120) * 1000;

    let configError: string | undefined;
    try {
      capture.kind = detectKind(capture.source);
      if (/^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/i.test(capture.source)) {
        node.warn(`the source URL carries a password: move it to the node's password field, which Node-RED stores as a credential`);
      }
    } catch (err) {
      configError = (err as Error).message;
    }

    const send = (msg: NodeMessage): void => node.send(msg);
    const frameMessage = (frame: Frame, gray: GrayFrame | undefined, grayOn: boolean): NodeMessage => {
      const msg: NodeMessage = {
        topic: name,
        payload: frame.data,
        frame: { stream: name, seq: frame.seq, time: frame.time, size: frame.data.length, grayOn },
      };
      if (gray) msg.gray = gray;
      return msg;
    };

    let statusTimer: NodeJS.Timeout | undefined;
    const controller = new SourceController(
      node.id,
      name,
      pool,
      capture,
      def.startMode !== 'demand' || !!capture.gray,
      (frame, gray, grayOn) => send(frameMessage(frame, gray, grayOn)),
    );

    const showStatus = (): void => {
      const stream = controller.stream;
      const state = controller.state();
      if (!stream) {
        node.status({ fill: 'grey', shape: 'ring', text: 'idle (on demand)' });
        return;
      }
      const s = stream.stats();
      let text: string = state;
      if (state === 'healthy' || state === 'degraded') text += ` · ${s.fps.toFixed(1)} fps`;
      if ((state === 'recovering' || state === 'failed') && s.lastError) text += `: ${s.lastError}`;
      if (text.length > 80) text = `${text.slice(0, 77)}…`;
      node.status({ fill: STATUS_FILL[state], shape: state === 'healthy' ? 'dot' : 'ring', text });
    };

    controller.on('state', (state: StreamState, reason: string | undefined) => {
      showStatus();
      if (state === 'failed' && reason) node.error(`${name}: ${reason}`);
      else if (state === 'recovering' && reason) node.warn(`${name}: ${reason}`);
      clearInterval(statusTimer);
      statusTimer = controller.stream ? setInterval(showStatus, STATUS_INTERVAL_MS) : undefined;
    });

    if (configError) {
      node.status({ fill: 'red', shape: 'ring', text: configError.slice(0, 80) });
      node.error(configError);
    } else {
      sourceRegistry.add(controller);
      node.log(`source ${name}: ${displaySource(capture)}${capture.gray ? ` (+ gray ${capture.gray.width}x${capture.gray.height} for motion)` : ''}`);
      controller.start();
      showStatus();
    }

    node.on('input', (msg: NodeMessage, nodeSend: SendFn, done: DoneFn) => {
      if (configError) {
        done(new Error(configError));
        return;
      }
      const reply = (frame: Frame): void => {
        msg.topic = name;
        msg.payload = frame.data;
        msg.frame = { stream: name, seq: frame.seq, time: frame.time, size: frame.data.length, grayOn: false };
        msg.snapshot = true;
        nodeSend(msg);
        done();
      };
      const latest = controller.latest();
      if (latest) {
        reply(latest);
        return;
      }
      // No frame yet (on demand and idle, or still starting): hold a demand until the first frame or the timeout.
      const consumer = `snapshot:${msg._msgid ?? Math.random()}`;
      const finish = (frame?: Frame): void => {
        clearTimeout(timer);
        controller.off('frame', onFrame);
        controller.release(consumer);
        if (frame) reply(frame);
        else done(new Error(`${name}: no frame within ${snapshotTimeoutMs / 1000} s (state ${controller.state()})`));
      };
      const onFrame = (frame: Frame): void => finish(frame);
      const timer = setTimeout(() => finish(), snapshotTimeoutMs);
      controller.on('frame', onFrame);
      controller.acquire(consumer);
    });

    node.on('close', (removed: boolean, done: () => void) => {
      clearInterval(statusTimer);
      sourceRegistry.remove(controller);
      controller.close(removed);
      controller.removeAllListeners();
      poolNode?.deregister(node);
      const finish = (): void => {
        if (removed) node.status({});
        done();
      };
      if (poolNode) finish();
      else releaseDefaultPool(node.id).then(finish, finish);
    });
  }

  RED.nodes.registerType('glimpser-ffmpeg-source', FfmpegSource, {
    credentials: { username: { type: 'text' }, password: { type: 'password' } },
  });
};

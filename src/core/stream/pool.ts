import { EventEmitter } from 'node:events';
import { Capture, type CaptureLike, type SupervisorTuning } from '../capture/capture';
import { connectionSignature, sourceSignature } from './signature';
import type { CaptureOptions } from '../ffmpeg/options';
import { resolveFfmpeg, type FfmpegBinary } from '../ffmpeg/binary';
import { HttpCapture, type SharedConnection } from '../capture/http-capture';
import { MjpegHttpSource } from '../capture/mjpeg-http-source';
import { DEFAULT_MAX_PIXELS } from '../jpeg/jpeg-info';
import { recycleCheckMs, recycleReason, type RecycleOptions } from './recycle-policy';
import { Stream, type ProcessSource, type StreamLease } from './stream';


export interface PoolOptions {
  /** FFmpeg path from the config node; empty means PATH, then the bundled binary. */
  ffmpegPath?: string;
  /** How long a stream with no lease keeps running, so a viewer who reloads a page finds it warm. */
  idleGraceMs: number;
  supervisor?: SupervisorTuning;
  /** Largest frame, in pixels, that a pass-through camera's JPEG may be decoded at for motion. */
  maxPixels?: number;
  /** Decoder threads for every process (0: FFmpeg's choice). Default 1: least CPU per frame, no added delay. */
  decoderThreads?: number;
  /** Replace FFmpeg processes after a time or above a memory bound, without a gap (off by default). */
  recycle?: RecycleOptions;
}

export interface PoolEvents {
  /** The binary was chosen (once per pool). */
  binary: [binary: FfmpegBinary];
  binaryError: [error: Error];
  captureStarted: [capture: CaptureLike];
  captureStopped: [capture: CaptureLike];
  /** A process was replaced without a gap (why), or a replacement gave up before its first frame (recycled false). */
  recycle: [capture: CaptureLike, reason: string, recycled: boolean];
  streamAdded: [stream: Stream];
  streamRemoved: [stream: Stream];
}

/** A consumer's claim on a process; the process stops (after the idle grace) when the last lease is released. */
export type Lease = StreamLease;

interface Entry {
  capture: CaptureLike;
  leases: number;
  idleTimer?: NodeJS.Timeout;
  stopping?: Promise<void>;
}

/**
 * The owner of every stream and every FFmpeg process of one process-pool config node (or of the default pool).
 * Named streams (`stream(name)`) hold their definition, users, demand, state and counters; underneath, processes
 * are shared by normalised signature and refcounted, started on the first lease and stopped after an idle grace
 * when the last is released, all stopped on close.
 */
export class ProcessPool extends EventEmitter<PoolEvents> implements ProcessSource {
  private readonly entries = new Map<string, Entry>();
  private readonly named = new Map<string, Stream>();
  private readonly stopping = new Set<Promise<void>>();
  /** Processes still shutting down, by key: a new process for the same camera waits for the old one to exit. */
  private readonly stoppingByKey = new Map<string, Promise<void>>();
  /** Pass-through cameras by connection: one HTTP connection per camera, however many captures read it. */
  private readonly connections = new Map<string, { source: MjpegHttpSource; refs: number }>();
  private binary: Promise<FfmpegBinary> | undefined;
  private closed = false;
  private recycleTimer: NodeJS.Timeout | undefined;

  constructor(private options: PoolOptions) {
    super();
    this.armRecycling();
  }

  get idleGraceMs(): number {
    return this.options.idleGraceMs;
  }

  get ffmpegPath(): string | undefined {
    return this.options.ffmpegPath;
  }

  /** New settings for processes started from now on (a redeployed config node that kept its binary). */
  configure(options: PoolOptions): void {
    if ((options.ffmpegPath ?? '') !== (this.options.ffmpegPath ?? '')) throw new Error('the FFmpeg path of a pool cannot change');
    this.options = options;
    this.armRecycling();
  }

  /** Resolves the binary once and reports which one and its version. */
  ffmpeg(): Promise<FfmpegBinary> {
    this.binary ??= resolveFfmpeg(this.options.ffmpegPath).then(
      (binary) => {
        this.emit('binary', binary);
        return binary;
      },
      (err: Error) => {
        this.emit('binaryError', err);
        throw err;
      },
    );
    return this.binary;
  }

  /** The named stream, created on first use (by its source, or by a consumer that comes first). */
  stream(name: string): Stream {
    if (this.closed) throw new Error('process pool is closed');
    let stream = this.named.get(name);
    if (!stream) {
      stream = new Stream(name, this);
      this.named.set(name, stream);
      this.emit('streamAdded', stream);
    }
    return stream;
  }

  /** Named streams, for health and metrics. */
  streams(): Stream[] {
    return [...this.named.values()];
  }

  /** Processes currently owned (running or in their idle grace). */
  captures(): CaptureLike[] {
    return [...this.entries.values()].map((e) => e.capture);
  }

  /**
   * A deploy has finished: users and definitions parked for a successor that did not come are dropped, and
   * streams nothing refers to any more are forgotten.
   */
  settle(): void {
    for (const stream of this.named.values()) stream.settle();
    this.forgetUnused();
  }

  /** A process for these exact capture options, shared with every other lease of the same signature. */
  acquire(capture: CaptureOptions, after?: Promise<unknown>): Lease {
    if (this.closed) throw new Error('process pool is closed');
    const key = sourceSignature(capture);
    let entry = this.entries.get(key);
    if (!entry) {
      const c = capture.passthrough
        ? new HttpCapture(key, capture, this.connect(capture), this.options.maxPixels ?? DEFAULT_MAX_PIXELS, this.options.supervisor?.healthIntervalMs)
        : new Capture(key, capture, this.ffmpeg(), this.options.supervisor, this.options.decoderThreads ?? 1);
      entry = { capture: c, leases: 0 };
      this.entries.set(key, entry);
      const prior = [this.stoppingByKey.get(key), after].filter((p) => p !== undefined);
      if (prior.length > 0) void Promise.allSettled(prior).then(() => c.start());
      else void c.start();
      this.emit('captureStarted', c);
    }
    clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
    entry.leases++;
    const held = entry;
    let released: Promise<void> | undefined;
    return {
      key,
      capture: held.capture,
      release: (immediate = false) => (released ??= this.releaseEntry(key, held, immediate)),
    };
  }

  acquireCapture(capture: CaptureOptions, after?: Promise<unknown>): Lease {
    return this.acquire(capture, after);
  }

  /** Stops every stream and process and waits until each process has exited. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.recycleTimer);
    const streams = [...this.named.values()];
    this.named.clear();
    await Promise.all(streams.map((s) => s.stop()));
    for (const s of streams) this.emit('streamRemoved', s);
    for (const [key, entry] of this.entries) this.stopEntry(key, entry);
    await Promise.all([...this.stopping]);
  }

  /** The shared connection to a pass-through camera (a camera that allows one client is read once). */
  private connect(capture: CaptureOptions): SharedConnection {
    const key = connectionSignature(capture);
    let conn = this.connections.get(key);
    if (!conn) {
      const t = this.options.supervisor;
      const source = new MjpegHttpSource({
        url: capture.source,
        username: capture.username,
        password: capture.password,
        // The captures judge what they deliver (a camera faster than the stream is thinned, not degraded).
        expectedFps: 0,
        // One retry policy for every camera of the pool, read by FFmpeg or passed through.
        ...(t?.backoff ? { backoff: t.backoff } : {}),
        ...(t?.maxRetries !== undefined ? { maxRetries: t.maxRetries } : {}),
        ...(t?.failedRetryMs !== undefined ? { failedRetryMs: t.failedRetryMs } : {}),
        ...(t?.healthyRunMs !== undefined ? { healthyRunMs: t.healthyRunMs } : {}),
        ...(t?.stallTimeoutMs ? { stallTimeoutMs: t.stallTimeoutMs } : {}),
      });
      conn = { source, refs: 0 };
      this.connections.set(key, conn);
    }
    conn.refs++;
    const held = conn;
    let released: Promise<void> | undefined;
    return {
      source: held.source,
      release: () => {
        if (released) return released;
        held.refs--;
        if (held.refs > 0) return (released = Promise.resolve());
        if (this.connections.get(key) === held) this.connections.delete(key);
        return (released = held.source.stop());
      },
    };
  }

  /** Whether the recycle policy is looking at processes (it has an age or memory bound). */
  get recycleTimerArmed(): boolean {
    return this.recycleTimer !== undefined;
  }

  /** Looks at every process on the recycle policy's period (only while the pool has one). */
  private armRecycling(): void {
    clearInterval(this.recycleTimer);
    this.recycleTimer = undefined;
    const o = this.options.recycle;
    if (!o || (!(o.afterMs! > 0) && !(o.maxRssBytes! > 0))) return;
    this.recycleTimer = setInterval(() => this.recycleDue(Date.now()), recycleCheckMs(o));
    this.recycleTimer.unref?.();
  }

  /** Starts a replacement beside every process the policy says is due. */
  recycleDue(now: number): void {
    const o = this.options.recycle;
    if (!o || this.closed) return;
    for (const { capture } of this.entries.values()) {
      if (!(capture instanceof Capture)) continue;
      const stats = capture.stats();
      const reason = recycleReason(o, { upSince: stats.upSince, pid: stats.pid, failedAt: capture.recycleFailedAt }, now);
      if (reason) void capture.recycle().then((recycled) => recycled !== undefined && this.emit('recycle', capture, reason, recycled));
    }
  }

  private forgetUnused(): void {
    for (const [name, stream] of this.named) {
      if (!stream.unused) continue;
      this.named.delete(name);
      stream.removeAllListeners();
      this.emit('streamRemoved', stream);
    }
  }

  private releaseEntry(key: string, entry: Entry, immediate: boolean): Promise<void> {
    entry.leases--;
    if (entry.leases > 0 || this.entries.get(key) !== entry) return Promise.resolve();
    if (immediate || this.options.idleGraceMs <= 0) return this.stopEntry(key, entry);
    entry.idleTimer = setTimeout(() => void this.stopEntry(key, entry), this.options.idleGraceMs);
    return Promise.resolve();
  }

  private stopEntry(key: string, entry: Entry): Promise<void> {
    clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
    if (this.entries.get(key) === entry) this.entries.delete(key);
    if (entry.stopping) return entry.stopping;
    const done = entry.capture.stop().finally(() => {
      this.stopping.delete(done);
      if (this.stoppingByKey.get(key) === done) this.stoppingByKey.delete(key);
      this.emit('captureStopped', entry.capture);
    });
    entry.stopping = done;
    this.stopping.add(done);
    this.stoppingByKey.set(key, done);
    return done;
  }
}

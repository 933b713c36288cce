import { EventEmitter } from 'node:events';
import { sourceSignature, type CaptureOptions } from './ffmpeg-args';
import { resolveFfmpeg, type FfmpegBinary } from './ffmpeg-binary';
import { Stream, type SupervisorTuning } from './stream';

export interface PoolOptions {
  /** FFmpeg path from the config node; empty means PATH, then the bundled binary. */
  ffmpegPath?: string;
  /** How long a stream with no lease keeps running, so a viewer who reloads a page finds it warm. */
  idleGraceMs: number;
  supervisor?: SupervisorTuning;
}

export interface PoolEvents {
  /** The binary was chosen (once per pool). */
  binary: [binary: FfmpegBinary];
  binaryError: [error: Error];
  streamStarted: [stream: Stream];
  streamStopped: [stream: Stream];
}

/** A consumer's claim on a stream; the process stops (after the idle grace) when the last lease is released. */
export interface Lease {
  readonly stream: Stream;
  /** `immediate` skips the idle grace (the node was removed, nobody will come back for it). */
  release(immediate?: boolean): void;
}

interface Entry {
  stream: Stream;
  leases: number;
  idleTimer?: NodeJS.Timeout;
  stopping?: Promise<void>;
}

/**
 * Owns every FFmpeg process: one per normalised source signature, shared by refcounted leases.
 * Started on the first lease, stopped after an idle grace when the last is released, all stopped on close.
 */
export class ProcessPool extends EventEmitter<PoolEvents> {
  private readonly entries = new Map<string, Entry>();
  private readonly stopping = new Set<Promise<void>>();
  /** Streams still shutting down, by key: a new process for the same camera waits for the old one to exit. */
  private readonly stoppingByKey = new Map<string, Promise<void>>();
  private binary: Promise<FfmpegBinary> | undefined;
  private closed = false;

  constructor(private readonly options: PoolOptions) {
    super();
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

  acquire(capture: CaptureOptions): Lease {
    if (this.closed) throw new Error('process pool is closed');
    const key = sourceSignature(capture);
    let entry = this.entries.get(key);
    if (!entry) {
      const stream = new Stream(key, capture, this.ffmpeg(), this.options.supervisor);
      entry = { stream, leases: 0 };
      this.entries.set(key, entry);
      const prior = this.stoppingByKey.get(key);
      if (prior) void prior.then(() => stream.start());
      else void stream.start();
      this.emit('streamStarted', stream);
    }
    clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
    entry.leases++;
    const held = entry;
    let released = false;
    return {
      stream: held.stream,
      release: (immediate = false) => {
        if (released) return;
        released = true;
        this.releaseEntry(key, held, immediate);
      },
    };
  }

  /** Streams currently owned (running or in their idle grace). */
  streams(): Stream[] {
    return [...this.entries.values()].map((e) => e.stream);
  }

  /** Stops every process and waits until each has exited. */
  async close(): Promise<void> {
    this.closed = true;
    for (const [key, entry] of this.entries) this.stopEntry(key, entry);
    await Promise.all([...this.stopping]);
  }

  private releaseEntry(key: string, entry: Entry, immediate: boolean): void {
    entry.leases--;
    if (entry.leases > 0 || this.entries.get(key) !== entry) return;
    if (immediate || this.options.idleGraceMs <= 0) {
      this.stopEntry(key, entry);
      return;
    }
    entry.idleTimer = setTimeout(() => this.stopEntry(key, entry), this.options.idleGraceMs);
  }

  private stopEntry(key: string, entry: Entry): void {
    clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
    if (this.entries.get(key) === entry) this.entries.delete(key);
    if (entry.stopping) return;
    const done = entry.stream.stop().finally(() => {
      this.stopping.delete(done);
      if (this.stoppingByKey.get(key) === done) this.stoppingByKey.delete(key);
      this.emit('streamStopped', entry.stream);
    });
    entry.stopping = done;
    this.stopping.add(done);
    this.stoppingByKey.set(key, done);
  }
}

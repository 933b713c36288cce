import { EventEmitter } from 'node:events';
import { buildArgs, grayPipe } from '../ffmpeg/args';
import { displaySource, grayBoxes, secretsOf, thumbWidths, type Box, type CaptureOptions } from '../ffmpeg/options';
import type { FfmpegBinary } from '../ffmpeg/binary';
import { FFMPEG_BOUNDARY, MultipartJpegSplitter } from '../jpeg/multipart-splitter';
import { PgmSplitter } from '../jpeg/pgm-splitter';
import { DEFAULT_SUPERVISOR, Supervisor, type SupervisorOptions } from './supervisor';
import type { ExitVerdict } from '../ffmpeg/exit-classifier';
import type { GrayFrame, StreamState } from '../types';

export type SupervisorTuning = Partial<Omit<SupervisorOptions, 'command' | 'args' | 'extraPipes' | 'secrets' | 'expectedFps'>>;

/**
 * What one process made of one decoded frame: the JPEG (when this frame index carries one) and one gray frame per
 * gray output, in the capture's `boxes` order. Views into FFmpeg's chunks, never copied, never mutated.
 */
export interface CapturedFrame {
  /** Index of the frame after the fps filter, counted from 0 for each process start. */
  readonly index: number;
  /** Epoch ms at which the last of its outputs arrived. */
  readonly time: number;
  readonly jpeg: Buffer | undefined;
  readonly gray: readonly (GrayFrame | undefined)[];
  /** Thumbnail JPEGs, in the capture's `thumbs` order (present with the main JPEG). */
  readonly thumbs?: readonly (Buffer | undefined)[];
}

/** How a process ended, for whoever decides what runs next (hardware decoding falls back on these). */
export interface CaptureExit {
  verdict: ExitVerdict;
  stopRequested: boolean;
  uptimeMs: number;
  stderrTail: string[];
}

export interface CaptureEvents {
  state: [state: StreamState, reason: string | undefined];
  frame: [frame: CapturedFrame];
  /** A process (or, for a pass-through camera, a connection) started. */
  spawn: [pid: number];
  exit: [exit: CaptureExit];
  /** The source answered, but not with what this capture reads (a pass-through camera that does not send MJPEG). */
  unsupported: [reason: string];
}

/** What a stream needs of a capture, whether it runs FFmpeg (Capture) or reads an MJPEG camera itself (HttpCapture). */
export interface CaptureLike {
  readonly key: string;
  readonly options: CaptureOptions;
  readonly description: string;
  readonly boxes: readonly Box[];
  readonly thumbs: readonly number[];
  readonly jpegEvery: number;
  readonly binary: FfmpegBinary | undefined;
  readonly state: StreamState;
  readonly reason: string | undefined;
  stats(): CaptureStats;
  stderrTail(): string[];
  start(): Promise<void>;
  stop(): Promise<void>;
  on<K extends keyof CaptureEvents>(event: K, listener: (...args: CaptureEvents[K]) => void): unknown;
  off<K extends keyof CaptureEvents>(event: K, listener: (...args: CaptureEvents[K]) => void): unknown;
}

export interface CaptureStats {
  frames: number;
  bytes: number;
  /** Frames delivered per second (last few seconds). */
  fps: number;
  /** Frames per second the camera sends, before the rate limit (pass-through cameras; FFmpeg does not say). */
  sourceFps?: number;
  restarts: number;
  retries: number;
  /** Bytes of FFmpeg output that never became a frame (garbage, oversize, partial at a restart). */
  droppedBytes: number;
  /** Frames emitted with an output missing (an output lost a frame, so pairing gave up on it). */
  unpaired: number;
  lastError?: string;
  upSince?: number;
  pid?: number;
}

interface Slot {
  jpeg: Buffer | undefined;
  gray: (GrayFrame | undefined)[];
  thumbs: (Buffer | undefined)[];
  have: number;
  /** When its first output came (performance.now()). */
  since: number;
}

/**
 * How long, and for how many frames, an incomplete frame waits for an output that lags behind before it goes out
 * without it. Outputs run dozens of frames apart in a burst (a live camera's start, where FFmpeg decodes what it read
 * while probing at once; FFmpeg catching up after a stall) but only for milliseconds: a limit of 8 frames split such
 * bursts into JPEG-only and gray-only frames. An output that is really lost delays the others by at most the wait.
 * 64 frames of 1080p JPEG are about 10 MB, held only while a burst lasts.
 */
const MAX_PENDING = 64;
const MAX_WAIT_MS = 1000;

/**
 * One persistent FFmpeg and its outputs: the supervisor keeps the process alive, the splitters turn its pipes into
 * JPEG and gray frames, and frames are paired by index (FFmpeg feeds every output from the same decoded frame, in
 * order), not by arrival: the pipes are read independently and one may run a frame or two ahead of another.
 */
export class Capture extends EventEmitter<CaptureEvents> implements CaptureLike {
  readonly description: string;
  /** Gray outputs in pipe order. */
  readonly boxes: readonly Box[];
  /** Thumbnail widths, in pipe order after the gray outputs. */
  readonly thumbs: readonly number[];
  readonly jpegEvery: number;
  readonly hasJpeg: boolean;
  binary: FfmpegBinary | undefined;
  /** The reason given with the last state change (why it is recovering, failed or degraded). */
  reason: string | undefined;
  private supervisor: Supervisor | undefined;
  private readonly jpeg: MultipartJpegSplitter;
  private readonly pgms: PgmSplitter[];
  private readonly thumbSplitters: MultipartJpegSplitter[];
  private readonly thumbCounts: number[];
  private jpegCount = 0;
  private readonly grayCounts: number[];
  private readonly pending = new Map<number, Slot>();
  private nextIndex = 0;
  private unpaired = 0;
  private failure: string | undefined;
  private spawnedAt = 0;
  private starting: Promise<void> | undefined;
  private stopped = false;

  constructor(
    readonly key: string,
    readonly options: CaptureOptions,
    private readonly binaryPromise: Promise<FfmpegBinary>,
    private readonly tuning: SupervisorTuning = {},
    /** The pool's decoder threads, for options that name none (not part of the options: they do not change the pictures). */
    private readonly decoderThreads = 0,
  ) {
    super();
    this.description = displaySource(options);
    this.boxes = safeBoxes(options);
    this.thumbs = safe(() => thumbWidths(options));
    this.hasJpeg = options.jpeg !== false;
    this.jpegEvery = this.hasJpeg ? Math.max(1, Math.round(options.jpegEvery ?? 1)) : 1;
    this.grayCounts = this.boxes.map(() => 0);
    // FFmpeg writes -f mpjpeg (see buildArgs): frames are cut by their Content-length, not by scanning.
    this.jpeg = new MultipartJpegSplitter({ boundary: FFMPEG_BOUNDARY, onFrame: (data) => this.onJpeg(data) });
    this.pgms = this.boxes.map((_, i) => new PgmSplitter({ onFrame: (data, width, height) => this.onGray(i, data, width, height) }));
    this.thumbCounts = this.thumbs.map(() => 0);
    this.thumbSplitters = this.thumbs.map((_, i) => new MultipartJpegSplitter({ boundary: FFMPEG_BOUNDARY, onFrame: (data) => this.onThumb(i, data) }));
  }

  get state(): StreamState {
    if (this.failure) return 'failed';
    return this.supervisor?.state ?? (this.starting ? 'starting' : 'idle');
  }

  stats(): CaptureStats {
    const s = this.supervisor?.stats;
    return {
      frames: s?.frames ?? 0,
      bytes: s?.bytes ?? 0,
      fps: s?.fps ?? 0,
      restarts: s?.restarts ?? 0,
      retries: this.supervisor?.retries ?? 0,
      // Dropped oversize frames are in skippedBytes already (counting onOversize too would count them twice).
      droppedBytes: this.jpeg.stats.skippedBytes + this.pgms.reduce((sum, p) => sum + p.stats.skippedBytes, 0) +
        this.thumbSplitters.reduce((sum, p) => sum + p.stats.skippedBytes, 0),
      unpaired: this.unpaired,
      lastError: this.failure ?? s?.lastError,
      upSince: s?.upSince,
      pid: s?.pid,
    };
  }

  /** The last stderr lines of FFmpeg, secrets removed. */
  stderrTail(): string[] {
    return this.supervisor?.stderrTail() ?? [];
  }

  start(): Promise<void> {
    this.starting ??= this.binaryPromise.then(
      (binary) => {
        this.binary = binary;
        if (this.stopped) return;
        let args: string[];
        try {
          args = buildArgs({ decoderThreads: this.decoderThreads, ...this.options, ffmpegVersion: this.options.ffmpegVersion ?? binary.release });
        } catch (err) {
          this.fail((err as Error).message);
          return;
        }
        // The supervisor counts one frame per paired set: gray outputs carry every frame, JPEG outputs every n-th.
        const rate = this.boxes.length > 0 ? this.options.fps : this.options.fps / this.jpegEvery;
        const supervisor = new Supervisor({
          ...DEFAULT_SUPERVISOR,
          ...this.tuning,
          command: binary.path,
          args,
          extraPipes: this.boxes.length + this.thumbs.length,
          secrets: secretsOf(this.options),
          expectedFps: rate,
        });
        this.supervisor = supervisor;
        supervisor.on('state', (state, reason) => {
          this.reason = reason;
          this.emit('state', state, reason);
        });
        supervisor.on('spawn', (pid) => {
          // A new process starts a new byte stream and a new frame count: nothing of the old one may leak into it.
          this.resetPairing();
          this.spawnedAt = Date.now();
          this.emit('spawn', pid);
        });
        supervisor.on('exit', (verdict) => {
          this.emit('exit', { verdict, stopRequested: verdict.kind === 'clean', uptimeMs: Date.now() - this.spawnedAt, stderrTail: supervisor.stderrTail() });
        });
        supervisor.on('stdout', (chunk) => this.jpeg.push(chunk));
        supervisor.on('pipe', (fd, chunk) => {
          const i = fd - grayPipe(0);
          if (i < this.pgms.length) this.pgms[i]?.push(chunk);
          else this.thumbSplitters[i - this.pgms.length]?.push(chunk);
        });
        supervisor.start();
      },
      (err: Error) => this.fail(err.message),
    );
    this.emit('state', this.state, undefined);
    return this.starting;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.starting;
    await this.supervisor?.stop();
    this.pending.clear();
  }

  private fail(reason: string): void {
    this.failure = reason;
    this.reason = reason;
    this.emit('state', 'failed', reason);
  }

  private resetPairing(): void {
    this.jpeg.reset();
    for (const p of this.pgms) p.reset();
    for (const t of this.thumbSplitters) t.reset();
    this.jpegCount = 0;
    this.grayCounts.fill(0);
    this.thumbCounts.fill(0);
    this.pending.clear();
    this.nextIndex = 0;
  }

  private onJpeg(data: Buffer): void {
    const index = this.jpegCount++ * this.jpegEvery;
    if (this.boxes.length === 0 && this.thumbs.length === 0) {
      this.deliver(index, data, [], []);
      return;
    }
    const slot = this.slot(index);
    if (!slot) return;
    slot.jpeg = data;
    slot.have++;
    this.flush();
  }

  private onGray(output: number, data: Buffer, width: number, height: number): void {
    const index = this.grayCounts[output]!++;
    const slot = this.slot(index);
    if (!slot) return;
    slot.gray[output] = { data, width, height, seq: index, time: Date.now() };
    slot.have++;
    this.flush();
  }

  private onThumb(output: number, data: Buffer): void {
    const index = this.thumbCounts[output]!++ * this.jpegEvery;
    const slot = this.slot(index);
    if (!slot) return;
    slot.thumbs[output] = data;
    slot.have++;
    this.flush();
  }

  private slot(index: number): Slot | undefined {
    // Its frame already went out incomplete: a late output must not open the index again.
    if (index < this.nextIndex) return undefined;
    let slot = this.pending.get(index);
    if (!slot) {
      slot = { jpeg: undefined, gray: this.boxes.map(() => undefined), thumbs: this.thumbs.map(() => undefined), have: 0, since: performance.now() };
      this.pending.set(index, slot);
    }
    return slot;
  }

  private expected(index: number): number {
    return this.boxes.length + (this.hasJpeg && index % this.jpegEvery === 0 ? 1 + this.thumbs.length : 0);
  }

  /** Emits frames in index order as they complete; one that waits too long for a lost output goes incomplete. */
  private flush(): void {
    for (;;) {
      const slot = this.pending.get(this.nextIndex);
      if (!slot) {
        if (this.pending.size <= MAX_PENDING) return;
        // Every output lost this index: move on to the oldest one we have.
        this.nextIndex = Math.min(...this.pending.keys());
        continue;
      }
      if (slot.have < this.expected(this.nextIndex)) {
        if (this.pending.size <= MAX_PENDING && performance.now() - slot.since < MAX_WAIT_MS) return;
        this.unpaired++;
      }
      this.pending.delete(this.nextIndex);
      this.deliver(this.nextIndex++, slot.jpeg, slot.gray, slot.thumbs);
    }
  }

  private deliver(index: number, jpeg: Buffer | undefined, gray: (GrayFrame | undefined)[], thumbs: (Buffer | undefined)[]): void {
    let bytes = jpeg?.length ?? 0;
    for (const g of gray) bytes += g?.data.length ?? 0;
    for (const t of thumbs) bytes += t?.length ?? 0;
    this.supervisor?.noteFrame(bytes);
    this.emit('frame', { index, time: Date.now(), jpeg, gray, thumbs });
  }
}

function safeBoxes(capture: CaptureOptions): Box[] {
  return safe(() => grayBoxes(capture));
}

function safe<T>(fn: () => T[]): T[] {
  try {
    return fn();
  } catch {
    // buildArgs reports the same error when the process starts: the capture goes to failed with it.
    return [];
  }
}

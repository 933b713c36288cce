import { EventEmitter } from 'node:events';
import { buildArgs } from '../ffmpeg/args';
import { displaySource, grayBoxes, secretsOf, thumbWidths, type Box, type CaptureOptions } from '../ffmpeg/options';
import type { FfmpegBinary } from '../ffmpeg/binary';
import { DEFAULT_SUPERVISOR, Supervisor, type SupervisorOptions } from './supervisor';
import type { ExitVerdict } from '../ffmpeg/exit-classifier';
import type { StreamState } from '../types';
import { FramePairing, type CapturedFrame } from './frame-pairing';

export type { CapturedFrame } from './frame-pairing';

const PRODUCING: ReadonlySet<StreamState> = new Set(['healthy', 'degraded']);

export type SupervisorTuning = Partial<Omit<SupervisorOptions, 'command' | 'args' | 'extraPipes' | 'secrets' | 'expectedFps'>>;


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
  /** recycle() replaced the process (pid: the new one) without a gap: not a restart. */
  recycle: [pid: number];
  /** The camera answered with MJPEG (our own client, pass-through). */
  mjpeg: [];
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
  /** Processes replaced by a recycle, without a gap. */
  recycles?: number;
}

/** One FFmpeg process and what its pipes give (while a recycle runs, the successor beside the current one). */
interface Run {
  readonly supervisor: Supervisor;
  readonly pairing: FramePairing;
  spawnedAt: number;
  /** Where its frames go: the capture's viewers, or (a successor not yet taken over) the take-over. */
  onFrame: (frame: CapturedFrame, bytes: number) => void;
}

/**
 * One persistent FFmpeg and its outputs, as the stream sees it: the supervisor keeps the process alive, FramePairing
 * turns its pipes into frames. recycle() replaces the process with a fresh one without a gap: the successor runs beside
 * the current one and takes over with its first frame (make before break), as a stream switches outputs.
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
  /** Processes replaced by recycle() without a gap, and recycles given up (the successor failed before its first frame). */
  recycles = 0;
  recycleFailures = 0;
  /** Epoch ms of the last recycle given up (a camera that serves one client refuses the successor, say). */
  recycleFailedAt: number | undefined;
  private run: Run | undefined;
  private successor: Run | undefined;
  private args: string[] | undefined;
  /** Counts of processes recycled away. */
  private unpaired = 0;
  private droppedBytes = 0;
  private failure: string | undefined;
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
  }

  get state(): StreamState {
    if (this.failure) return 'failed';
    return this.run?.supervisor.state ?? (this.starting ? 'starting' : 'idle');
  }

  stats(): CaptureStats {
    const run = this.run;
    const s = run?.supervisor.stats;
    return {
      frames: s?.frames ?? 0,
      bytes: s?.bytes ?? 0,
      fps: s?.fps ?? 0,
      restarts: s?.restarts ?? 0,
      retries: run?.supervisor.retries ?? 0,
      droppedBytes: this.droppedBytes + (run?.pairing.droppedBytes ?? 0),
      unpaired: this.unpaired + (run?.pairing.unpaired ?? 0),
      lastError: this.failure ?? s?.lastError,
      upSince: s?.upSince,
      pid: s?.pid,
      recycles: this.recycles,
    };
  }

  /** The last stderr lines of FFmpeg, secrets removed. */
  stderrTail(): string[] {
    return this.run?.supervisor.stderrTail() ?? [];
  }

  start(): Promise<void> {
    this.starting ??= this.binaryPromise.then(
      (binary) => {
        this.binary = binary;
        if (this.stopped) return;
        try {
          this.args = buildArgs({ decoderThreads: this.decoderThreads, ...this.options, ffmpegVersion: this.options.ffmpegVersion ?? binary.release });
        } catch (err) {
          this.fail((err as Error).message);
          return;
        }
        const run = this.newRun();
        this.adopt(run);
        run.supervisor.start();
      },
      (err: Error) => this.fail(err.message),
    );
    this.emit('state', this.state, undefined);
    return this.starting;
  }

  /**
   * Replaces the running process with a fresh one without a gap (a long-running FFmpeg can grow): the successor starts
   * beside it and takes over with its first frame. Resolves true once it took over; false when the successor ended
   * before its first frame (the running process was never touched and carries on); undefined when nothing was tried
   * (no process delivering, or a recycle already under way).
   */
  recycle(): Promise<boolean | undefined> {
    const current = this.run;
    if (this.stopped || !current || this.successor || !PRODUCING.has(current.supervisor.state)) return Promise.resolve(undefined);
    const next = this.newRun();
    this.successor = next;
    return new Promise<boolean | undefined>((resolve) => {
      next.onFrame = (frame, bytes) => {
        if (this.successor !== next) return;
        this.successor = undefined;
        this.retire(current);
        this.adopt(next);
        this.recycles++;
        this.emit('recycle', next.supervisor.stats.pid ?? 0);
        next.onFrame(frame, bytes);
        resolve(true);
      };
      next.supervisor.on('exit', () => {
        if (this.successor !== next) return;
        this.successor = undefined;
        this.recycleFailures++;
        this.recycleFailedAt = Date.now();
        void next.supervisor.stop();
        resolve(false);
      });
      next.supervisor.start();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.starting;
    await Promise.all([this.run?.supervisor.stop(), this.successor?.supervisor.stop()]);
  }

  private newRun(): Run {
    // The supervisor counts one frame per paired set: gray outputs carry every frame, JPEG outputs every n-th.
    const rate = this.boxes.length > 0 ? this.options.fps : this.options.fps / this.jpegEvery;
    const supervisor = new Supervisor({
      ...DEFAULT_SUPERVISOR,
      ...this.tuning,
      command: this.binary!.path,
      args: this.args!,
      extraPipes: this.boxes.length + this.thumbs.length,
      secrets: secretsOf(this.options),
      expectedFps: rate,
    });
    const run: Run = {
      supervisor,
      pairing: new FramePairing(this.boxes, this.thumbs, this.hasJpeg, this.jpegEvery, (frame, bytes) => run.onFrame(frame, bytes)),
      spawnedAt: 0,
      onFrame: () => undefined,
    };
    supervisor.on('spawn', () => {
      // A new process starts a new byte stream and a new frame count: nothing of the old one may leak into it.
      run.pairing.reset();
      run.spawnedAt = Date.now();
    });
    supervisor.on('stdout', (chunk) => run.pairing.stdout(chunk));
    supervisor.on('pipe', (fd, chunk) => run.pairing.pipe(fd, chunk));
    return run;
  }

  /** The run's process is the capture's from now on: its frames, state, restarts and exits. */
  private adopt(run: Run): void {
    this.run = run;
    const { supervisor } = run;
    supervisor.removeAllListeners('exit');
    run.onFrame = (frame, bytes) => {
      supervisor.noteFrame(bytes);
      this.emit('frame', frame);
    };
    supervisor.on('state', (state, reason) => {
      this.reason = reason;
      this.emit('state', state, reason);
    });
    supervisor.on('spawn', (pid) => this.emit('spawn', pid));
    supervisor.on('exit', (verdict) => {
      this.emit('exit', { verdict, stopRequested: verdict.kind === 'clean', uptimeMs: Date.now() - run.spawnedAt, stderrTail: supervisor.stderrTail() });
    });
  }

  private retire(run: Run): void {
    run.supervisor.removeAllListeners();
    run.onFrame = () => undefined;
    this.unpaired += run.pairing.unpaired;
    this.droppedBytes += run.pairing.droppedBytes;
    void run.supervisor.stop();
  }

  private fail(reason: string): void {
    this.failure = reason;
    this.reason = reason;
    this.emit('state', 'failed', reason);
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

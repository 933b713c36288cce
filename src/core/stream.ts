import { EventEmitter } from 'node:events';
import { buildArgs, displaySource, secretsOf, type CaptureOptions } from './ffmpeg-args';
import type { FfmpegBinary } from './ffmpeg-binary';
import { FFMPEG_BOUNDARY, MultipartJpegSplitter } from './multipart-splitter';
import { PgmSplitter } from './pgm-splitter';
import { DEFAULT_SUPERVISOR, Supervisor, type SupervisorOptions } from './supervisor';
import type { Frame, GrayFrame, StreamState, StreamStats } from './types';

export type SupervisorTuning = Partial<Omit<SupervisorOptions, 'command' | 'args' | 'extraPipe' | 'secrets' | 'expectedFps'>>;

export interface StreamEvents {
  state: [state: StreamState, reason: string | undefined];
  frame: [frame: Frame];
  gray: [frame: GrayFrame];
  spawn: [pid: number];
}

/**
 * One persistent FFmpeg for one distinct source: the supervisor keeps the process alive, the splitters turn its
 * pipes into frames. Frames are views into FFmpeg's chunks, shared by every consumer, never copied here.
 */
export class Stream extends EventEmitter<StreamEvents> {
  readonly description: string;
  private supervisor: Supervisor | undefined;
  private readonly jpeg: MultipartJpegSplitter;
  private readonly pgm: PgmSplitter | undefined;
  private seq = 0;
  private graySeq = 0;
  private latestFrame: Frame | undefined;
  private latestGray: GrayFrame | undefined;
  private failure: string | undefined;
  private starting: Promise<void> | undefined;
  private stopped = false;

  constructor(
    readonly key: string,
    private readonly capture: CaptureOptions,
    private readonly binary: Promise<FfmpegBinary>,
    private readonly tuning: SupervisorTuning = {},
  ) {
    super();
    this.description = displaySource(capture);
    // FFmpeg writes -f mpjpeg (see buildArgs): frames are cut by their Content-length, not by scanning.
    this.jpeg = new MultipartJpegSplitter({ boundary: FFMPEG_BOUNDARY, onFrame: (data) => this.onJpeg(data) });
    if (capture.gray) {
      this.pgm = new PgmSplitter({ onFrame: (data, width, height) => this.onGray(data, width, height) });
    }
  }

  get state(): StreamState {
    if (this.failure) return 'failed';
    return this.supervisor?.state ?? (this.starting ? 'starting' : 'idle');
  }

  latest(): Frame | undefined {
    return this.latestFrame;
  }

  latestGrayFrame(): GrayFrame | undefined {
    return this.latestGray;
  }

  stats(): StreamStats {
    const s = this.supervisor?.stats;
    return {
      state: this.state,
      frames: s?.frames ?? 0,
      bytes: s?.bytes ?? 0,
      fps: s?.fps ?? 0,
      restarts: s?.restarts ?? 0,
      // Dropped oversize frames are in skippedBytes already (counting onOversize too would count them twice).
      droppedBytes: this.jpeg.stats.skippedBytes,
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
    this.starting ??= this.binary.then(
      ({ path: command, release }) => {
        if (this.stopped) return;
        let args: string[];
        try {
          args = buildArgs({ ...this.capture, ffmpegVersion: this.capture.ffmpegVersion ?? release });
        } catch (err) {
          this.fail((err as Error).message);
          return;
        }
        const supervisor = new Supervisor({
          ...DEFAULT_SUPERVISOR,
          ...this.tuning,
          command,
          args,
          extraPipe: !!this.capture.gray,
          secrets: secretsOf(this.capture),
          expectedFps: this.capture.fps,
        });
        this.supervisor = supervisor;
        supervisor.on('state', (state, reason) => this.emit('state', state, reason));
        supervisor.on('spawn', (pid) => {
          // A new process starts a new byte stream: partial frames of the old one must not leak into it.
          this.jpeg.reset();
          this.pgm?.reset();
          this.emit('spawn', pid);
        });
        supervisor.on('stdout', (chunk) => this.jpeg.push(chunk));
        if (this.pgm) {
          const pgm = this.pgm;
          supervisor.on('pipe3', (chunk) => pgm.push(chunk));
        }
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
    this.latestFrame = undefined;
    this.latestGray = undefined;
  }

  private fail(reason: string): void {
    this.failure = reason;
    this.emit('state', 'failed', reason);
  }

  private onJpeg(data: Buffer): void {
    const frame: Frame = { data, seq: ++this.seq, time: Date.now() };
    this.latestFrame = frame;
    this.supervisor?.noteFrame(data.length);
    this.emit('frame', frame);
  }

  private onGray(data: Buffer, width: number, height: number): void {
    const frame: GrayFrame = { data, width, height, seq: ++this.graySeq, time: Date.now() };
    this.latestGray = frame;
    this.emit('gray', frame);
  }
}

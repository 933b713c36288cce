import { EventEmitter } from 'node:events';
import type { CaptureEvents, CaptureLike, CaptureStats, CapturedFrame } from './capture';
import { rateBurst } from '../ffmpeg/args';
import { displaySource, grayBoxes, type Box, type CaptureOptions } from '../ffmpeg/options';
import { GrayDecoder } from '../jpeg/jpeg-gray';
import type { MjpegHttpSource } from './mjpeg-http-source';
import { healthChange, RATE_TICK_MS, RateHealth } from './rate-health';
import type { GrayFrame, StreamState } from '../types';

/** A camera connection shared by every pass-through capture of it; released when the last one stops. */
export interface SharedConnection {
  readonly source: MjpegHttpSource;
  release(): Promise<void>;
}

const PRODUCING: ReadonlySet<StreamState> = new Set(['healthy', 'degraded']);

/**
 * An MJPEG-over-HTTP camera read without FFmpeg: its JPEGs pass through as they came (no decode, no encode), a
 * camera faster than the stream's rate thinned on average (a token bucket, as FFmpeg's rate limit: never a frame of
 * an unevenly paced camera at the stream's rate); gray
 * frames for motion are decoded from them at reduced size, one decode per size at a time, and delivered as frames
 * of their own when ready, so viewers never wait for motion's decode.
 *
 * Its health is what it delivers: the connection's state while it is down, and while frames flow, healthy or degraded
 * by the delivered rate against the stream's (a camera sending 10 fps of which 5 reach viewers is degraded, and says
 * both rates).
 */
export class HttpCapture extends EventEmitter<CaptureEvents> implements CaptureLike {
  readonly description: string;
  readonly boxes: readonly Box[];
  /** Thumbnails would mean decoding and encoding: a pass-through camera serves its own frames only. */
  readonly thumbs: readonly number[] = [];
  readonly jpegEvery = 1;
  readonly binary = undefined;
  private readonly decoders: GrayDecoder[];
  private readonly burst: number;
  private tokens: number;
  private lastFrameAt: number | undefined;
  private readonly delivered: RateHealth;
  private deliveredState: 'healthy' | 'degraded' = 'healthy';
  private deliveredReason: string | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private sourceUp = false;
  private frames = 0;
  private bytes = 0;
  private index = 0;
  private spawns = 0;
  private started = false;
  private stopped = false;
  private grayErrors = 0;
  /** The reason given with the connection's last state change (why it is recovering or failed, with the retry). */
  private lastReason: string | undefined;
  private readonly onState = (state: StreamState, reason: string | undefined): void => {
    this.lastReason = reason;
    const up = PRODUCING.has(state);
    if (up && this.sourceUp) return; // the camera's own rate: what counts is what is delivered (tick)
    this.sourceUp = up;
    if (up) {
      // Frames flow (again): the delivered rate is judged afresh from here.
      this.delivered.reset();
      this.deliveredState = 'healthy';
      this.deliveredReason = undefined;
      this.emit('state', 'healthy', undefined);
      return;
    }
    this.emit('state', state, reason);
  };
  private readonly onConnect = (): void => {
    this.emit('spawn', ++this.spawns);
    this.emit('mjpeg');
  };
  private readonly onFrame = (jpeg: Buffer): void => this.frame(jpeg);
  private readonly onUnsupported = (reason: string): void => {
    this.emit('unsupported', reason);
  };

  constructor(
    readonly key: string,
    readonly options: CaptureOptions,
    private readonly connection: SharedConnection,
    maxPixels: number,
    /** How often the delivered rate is judged against the stream's (as FFmpeg's supervisor does). */
    healthIntervalMs = 30_000,
  ) {
    super();
    this.description = displaySource(options);
    this.boxes = grayBoxes(options);
    this.decoders = this.boxes.map((b) => new GrayDecoder(b, { maxPixels }));
    this.delivered = new RateHealth(options.fps, healthIntervalMs);
    // The same bucket as FFmpeg's rate limit, so both ways of reading a camera keep the same frames.
    this.burst = rateBurst(options.fps);
    this.tokens = this.burst;
  }

  get state(): StreamState {
    if (!this.started) return 'idle';
    const s = this.connection.source.state;
    return PRODUCING.has(s) ? this.deliveredState : s;
  }

  get reason(): string | undefined {
    const s = this.connection.source.state;
    if (PRODUCING.has(s)) return this.deliveredReason;
    return this.lastReason ?? this.connection.source.stats.lastError;
  }

  stats(): CaptureStats {
    const s = this.connection.source.stats;
    return {
      frames: this.frames,
      bytes: this.bytes,
      fps: this.delivered.fps,
      sourceFps: s.fps,
      restarts: s.restarts,
      retries: this.connection.source.retries,
      droppedBytes: 0,
      unpaired: this.decoders.reduce((n, d) => n + d.stats.dropped, 0) + this.grayErrors,
      lastError: s.lastError,
      upSince: s.upSince,
      pid: undefined,
    };
  }

  stderrTail(): string[] {
    return this.connection.source.recentErrors();
  }

  async start(): Promise<void> {
    if (this.started || this.stopped) return;
    this.started = true;
    const source = this.connection.source;
    source.on('state', this.onState);
    source.on('connect', this.onConnect);
    source.on('frame', this.onFrame);
    source.on('unsupported', this.onUnsupported);
    source.start();
    this.tickTimer = setInterval(() => this.tick(), RATE_TICK_MS);
    this.emit('state', this.state, undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.tickTimer);
    this.tickTimer = undefined;
    const source = this.connection.source;
    source.off('state', this.onState);
    source.off('connect', this.onConnect);
    source.off('frame', this.onFrame);
    source.off('unsupported', this.onUnsupported);
    await this.connection.release();
  }

  private tick(): void {
    const verdict = this.delivered.tick();
    if (!PRODUCING.has(this.connection.source.state)) return;
    const change = healthChange(this.deliveredState, verdict);
    if (!change) return;
    this.deliveredState = change.state as 'healthy' | 'degraded';
    this.deliveredReason = change.state === 'degraded'
      ? `${change.reason}: the camera sends ${this.connection.source.stats.fps.toFixed(1)} fps`
      : undefined;
    this.emit('state', this.deliveredState, this.deliveredReason);
  }

  /** Lets the frame through when the bucket holds a token (refilled at the stream's rate, at most RATE_BURST). */
  private admit(now: number): boolean {
    const fps = this.options.fps;
    if (!(fps > 0)) return true;
    if (this.lastFrameAt !== undefined) this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastFrameAt) / 1000) * fps);
    this.lastFrameAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private frame(jpeg: Buffer): void {
    if (!this.admit(performance.now())) return;
    const index = this.index++;
    this.frames++;
    this.bytes += jpeg.length;
    this.delivered.count();
    this.emit('frame', { index, time: Date.now(), jpeg, gray: [] } satisfies CapturedFrame);
    this.decoders.forEach((decoder, i) => {
      decoder.offer(jpeg).then(
        (img) => {
          if (!img || this.stopped) return;
          const gray: (GrayFrame | undefined)[] = this.boxes.map(() => undefined);
          gray[i] = { data: img.data, width: img.width, height: img.height, seq: index, time: Date.now() };
          this.emit('frame', { index, time: Date.now(), jpeg: undefined, gray });
        },
        () => {
          // A part that is not a decodable JPEG reaches viewers as it came; motion skips it (counted).
          this.grayErrors++;
        },
      );
    });
  }
}

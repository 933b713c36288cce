import { EventEmitter } from 'node:events';
import type { CaptureEvents, CaptureLike, CaptureStats, CapturedFrame } from './capture';
import { displaySource, grayBoxes, type Box, type CaptureOptions } from '../ffmpeg/options';
import { GrayDecoder } from '../jpeg/jpeg-gray';
import type { MjpegHttpSource } from './mjpeg-http-source';
import type { GrayFrame, StreamState } from '../types';

/** A camera connection shared by every pass-through capture of it; released when the last one stops. */
export interface SharedConnection {
  readonly source: MjpegHttpSource;
  release(): Promise<void>;
}

/** Frames closer than this share of the frame interval are dropped, so a camera faster than asked is thinned. */
const EARLY = 0.8;

/**
 * An MJPEG-over-HTTP camera read without FFmpeg: its JPEGs pass through as they came (no decode, no encode), thinned to
 * the stream's frame rate; gray frames for motion are decoded from them at reduced size, one decode per size at a
 * time, and delivered as frames of their own when ready, so viewers never wait for motion's decode.
 */
export class HttpCapture extends EventEmitter<CaptureEvents> implements CaptureLike {
  readonly description: string;
  readonly boxes: readonly Box[];
  /** Thumbnails would mean decoding and encoding: a pass-through camera serves its own frames only. */
  readonly thumbs: readonly number[] = [];
  readonly jpegEvery = 1;
  readonly binary = undefined;
  private readonly decoders: GrayDecoder[];
  private readonly minIntervalMs: number;
  private lastAt = -Infinity;
  private index = 0;
  private spawns = 0;
  private started = false;
  private stopped = false;
  private grayErrors = 0;
  /** The reason given with the source's last state change (why it is recovering or failed, with the retry). */
  private lastReason: string | undefined;
  private readonly onState = (state: StreamState, reason: string | undefined): void => {
    this.lastReason = reason;
    this.emit('state', state, reason);
  };
  private readonly onConnect = (): void => {
    this.emit('spawn', ++this.spawns);
  };
  private readonly onFrame = (jpeg: Buffer): void => this.frame(jpeg);

  constructor(
    readonly key: string,
    readonly options: CaptureOptions,
    private readonly connection: SharedConnection,
    maxPixels: number,
  ) {
    super();
    this.description = displaySource(options);
    this.boxes = grayBoxes(options);
    this.decoders = this.boxes.map((b) => new GrayDecoder(b, { maxPixels }));
    this.minIntervalMs = options.fps > 0 ? (1000 / options.fps) * EARLY : 0;
  }

  get state(): StreamState {
    return this.started ? this.connection.source.state : 'idle';
  }

  get reason(): string | undefined {
    const s = this.connection.source;
    return s.state === 'healthy' ? undefined : this.lastReason ?? s.stats.lastError;
  }

  stats(): CaptureStats {
    const s = this.connection.source.stats;
    return {
      frames: s.frames,
      bytes: s.bytes,
      fps: s.fps,
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
    source.start();
    this.emit('state', source.state, undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const source = this.connection.source;
    source.off('state', this.onState);
    source.off('connect', this.onConnect);
    source.off('frame', this.onFrame);
    await this.connection.release();
  }

  private frame(jpeg: Buffer): void {
    const now = performance.now();
    if (now - this.lastAt < this.minIntervalMs) return;
    this.lastAt = now;
    const index = this.index++;
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

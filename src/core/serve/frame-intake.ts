import { jpegSize, jpegView, type JpegSize } from '../jpeg/jpeg-info';
import type { MultipartWriter, Part } from '../jpeg/multipart-writer';
import type { Clock, ClockTimer } from './clock';
import { DOWN_STATES, NOT_PRODUCING, type EndpointSource } from './endpoint-source';
import { DEFAULT_PLACEHOLDER_SIZE, PlaceholderCache, fitPixels } from './placeholder';
import type { Viewer, ViewerHub } from './viewer-hub';

export class FrameTooLargeError extends Error {
  override readonly name = 'FrameTooLargeError';
}

export interface FrameIntakeOptions {
  /** Shown on placeholders. */
  name: string;
  /** Frames larger than this many pixels are refused (read from the JPEG header, nothing decoded). */
  maxPixels: number;
  /** With frames flowing but none new for this long, the last frame is sent again. */
  repeatMs: number;
  /** Placeholder period while the source is down or not yet producing. */
  placeholderMs: number;
  /** No frame for this long: the stream is treated as stopped and placeholders are shown. */
  staleMs: number;
  clock: Clock;
  /** The stream served now (its state decides between pictures and placeholders), if any. */
  source: () => EndpointSource | undefined;
  /** Thumbnail widths viewers watch now. */
  widths: () => Iterable<number>;
  /** Reports failures that must not end the stream (a placeholder that could not be drawn). */
  onError?: ((err: unknown) => void) | undefined;
}

/** The last frame in, as the endpoint keeps it for stills, repeats and newcomers. */
export interface LastFrame {
  readonly jpeg: Buffer;
  readonly seq: number;
  readonly time: number;
  /** Clock ms at arrival. */
  readonly at: number;
}

/**
 * Frames into an endpoint and parts out to its viewers: each frame checked against the pixel cap and made into one
 * multipart part (and one per thumbnail width) that every viewer is offered; the last frame again when nothing new
 * came for a while, so no viewer goes quiet; placeholders (stream name, state, reason, time) while the stream is
 * down, not yet producing, or silent for the stale period; and a newcomer's first part at once.
 */
export class FrameIntake {
  framesIn = 0;
  placeholdersSent = 0;
  refusedFrames = 0;
  readonly placeholders = new PlaceholderCache();
  private lastFrame: LastFrame | undefined;
  private lastRealPart: Part | undefined;
  /** The thumbnail parts of the last frame, by width. */
  private lastVariants: Map<number, Part> | undefined;
  private lastPlaceholder: { part: Part; at: number; src: Buffer } | undefined;
  private lastPushWasPlaceholder = false;
  private frameSize: JpegSize | undefined;
  private keepTimer: ClockTimer | undefined;
  private keepDelay = 0;
  private rendering = false;
  private stateChangedAt = -Infinity;
  private closed = false;

  constructor(
    private readonly hub: ViewerHub,
    private readonly writer: MultipartWriter,
    private readonly opts: FrameIntakeOptions,
  ) {}

  get last(): LastFrame | undefined {
    return this.lastFrame;
  }

  /** The size of the frames coming in (from the last JPEG header read). */
  get size(): JpegSize | undefined {
    return this.frameSize;
  }

  /** A frame arrived within the stale period. */
  get fresh(): boolean {
    return this.lastFrame !== undefined && this.opts.clock.now() - this.lastFrame.at < this.opts.staleMs;
  }

  get keeping(): boolean {
    return this.keepTimer !== undefined;
  }

  /**
   * A JPEG (validated with jpegView), with the stream's thumbnails of the same frame by width: served to every viewer.
   * Returns an error, and serves nothing of it, when its header declares more pixels than the cap.
   */
  frame(jpeg: Buffer, seq: number, time: number, thumbs?: Readonly<Record<string, Buffer>>): FrameTooLargeError | undefined {
    const size = jpegSize(jpeg);
    const { maxPixels } = this.opts;
    if (size && size.width * size.height > maxPixels) {
      this.refusedFrames++;
      return new FrameTooLargeError(`frame of ${size.width}x${size.height} is over the limit of ${maxPixels} pixels; dropped`);
    }
    this.framesIn++;
    this.lastFrame = { jpeg, seq, time, at: this.opts.clock.now() };
    if (size) this.frameSize = size;
    if (this.hub.size === 0) {
      this.lastRealPart = undefined;
      this.lastVariants = undefined;
      return undefined;
    }
    const part = this.writer.part(jpeg, seq, time);
    this.lastRealPart = part;
    let variants: Map<number, Part> | undefined;
    if (thumbs) {
      for (const w of this.opts.widths()) {
        // From other nodes a "thumbnail" may be anything: only a JPEG no larger than the cap is served.
        const t = jpegView(thumbs[String(w)]);
        const ts = t && jpegSize(t);
        if (t && ts && ts.width * ts.height <= maxPixels) (variants ??= new Map()).set(w, this.writer.part(t, seq, time));
      }
    }
    this.lastVariants = variants;
    this.push(part, true, variants);
    return undefined;
  }

  /** The last viewer left: nothing to repeat to anyone. */
  noViewers(): void {
    this.clearKeep();
    this.lastRealPart = undefined;
    this.lastVariants = undefined;
  }

  /** Nobody watches this thumbnail width any more. */
  widthGone(width: number): void {
    this.lastVariants?.delete(width);
  }

  /** The served stream changed. */
  sourceSet(source: EndpointSource | undefined): void {
    if (source && NOT_PRODUCING.has(source.state)) this.stateChangedAt = this.opts.clock.now();
  }

  /** The stream's state changed: placeholders at once if it went down, rather than after the repeat period. */
  stateChanged(): void {
    this.stateChangedAt = this.opts.clock.now();
    if (this.needsPlaceholder() && !this.lastPushWasPlaceholder && this.hub.size > 0) {
      this.clearKeep();
      this.sendPlaceholder();
    }
  }

  /** A new viewer: the last picture (or placeholder) at once, so it never waits for the next frame. */
  firstPart(viewer: Viewer): void {
    if (!this.keepTimer) this.armKeep();
    if (!this.needsPlaceholder()) {
      const part = (viewer.variant && this.lastVariants?.get(viewer.variant)) || this.realPart();
      if (part) viewer.offer(part, this.hub.now());
      return;
    }
    const ph = this.lastPlaceholder;
    if (ph && this.opts.clock.now() - ph.at < this.opts.placeholderMs) viewer.offer(ph.part, this.hub.now());
    else this.sendPlaceholder();
  }

  /** Recovering/failed, nothing yet, or nothing for staleMs: viewers get placeholders instead of a frozen frame. */
  needsPlaceholder(): boolean {
    const last = this.lastFrame;
    if (!last) return true;
    if (this.opts.clock.now() - last.at >= this.opts.staleMs) return true;
    const state = this.opts.source()?.state;
    // A frame newer than the last state change proves the source produces, whatever the state lags behind.
    return state !== undefined && NOT_PRODUCING.has(state) && !(last.at > this.stateChangedAt);
  }

  close(): void {
    this.closed = true;
    this.clearKeep();
  }

  private push(part: Part, live = false, variants?: ReadonlyMap<number, Part>): void {
    this.hub.push(part, live, variants);
    this.lastPushWasPlaceholder = part.placeholder;
    if (part.placeholder) this.placeholdersSent++;
    this.armKeep();
  }

  private realPart(): Part | undefined {
    if (!this.lastRealPart && this.lastFrame) {
      const { jpeg, seq, time } = this.lastFrame;
      this.lastRealPart = this.writer.part(jpeg, seq, time);
    }
    return this.lastRealPart;
  }

  private armKeep(): void {
    if (this.hub.size === 0 || this.closed) return this.clearKeep();
    const delay = this.needsPlaceholder() ? this.opts.placeholderMs : this.opts.repeatMs;
    // refresh() re-uses the timer: this runs once per frame.
    if (this.keepTimer && this.keepDelay === delay) {
      this.keepTimer.refresh();
      return;
    }
    this.clearKeep();
    this.keepDelay = delay;
    this.keepTimer = this.opts.clock.setTimeout(this.keepFired, delay);
  }

  private clearKeep(): void {
    if (this.keepTimer) this.opts.clock.clearTimeout(this.keepTimer);
    this.keepTimer = undefined;
  }

  /** Nothing pushed for a while: repeat the last frame or show a placeholder, so no viewer goes quiet. */
  private readonly keepFired = (): void => {
    this.keepTimer = undefined;
    if (this.hub.size === 0 || this.closed) return;
    if (this.needsPlaceholder()) {
      this.sendPlaceholder();
      return;
    }
    const part = this.realPart();
    if (part) this.push(part, false, this.lastVariants);
  };

  private sendPlaceholder(): void {
    if (this.rendering || this.closed) return;
    this.rendering = true;
    const framesBefore = this.framesIn;
    const source = this.opts.source();
    const state = source?.state;
    const label = !this.lastFrame
      ? state && state !== 'healthy' && state !== 'degraded'
        ? state
        : 'waiting for frames'
      : state && NOT_PRODUCING.has(state)
        ? state
        : 'no signal';
    const detail = state && DOWN_STATES.has(state) ? source?.lastError : undefined;
    const { width, height } = fitPixels(this.frameSize ?? DEFAULT_PLACEHOLDER_SIZE, this.opts.maxPixels);
    this.placeholders
      .get({ stream: this.opts.name, state: label, detail, width, height })
      .then(
        (jpeg) => {
          this.rendering = false;
          if (this.closed || this.hub.size === 0) return;
          // A real frame arrived while drawing: it wins.
          if (this.framesIn !== framesBefore && !this.needsPlaceholder()) return;
          let ph = this.lastPlaceholder;
          if (!ph || ph.src !== jpeg) {
            ph = { part: this.writer.part(jpeg, 0, Date.now(), true), at: this.opts.clock.now(), src: jpeg };
            this.lastPlaceholder = ph;
          }
          this.push(ph.part);
        },
        (err: unknown) => {
          this.rendering = false;
          this.opts.onError?.(err);
          this.armKeep();
        },
      );
  }
}

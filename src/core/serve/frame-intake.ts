import { jpegSize, jpegView, type JpegSize } from '../jpeg/jpeg-info';
import type { MultipartWriter, Part } from '../jpeg/multipart-writer';
import type { Clock, ClockTimer } from '../util/clock';
import { DOWN_STATES, NOT_PRODUCING, type EndpointSource } from './endpoint-source';
import { DEFAULT_PLACEHOLDER_SIZE, PlaceholderCache, fitPixels } from './placeholder';
import { resizeJpeg } from './thumb-resize';
import type { Viewer, ViewerHub } from './viewer-hub';

/**
 * How long a newly asked thumbnail width may take to arrive (the stream starts a process with that output beside the
 * old one) before its viewers get full frames instead; meanwhile they keep their first picture at their size.
 */
export const THUMB_WAIT_MS = 5000;

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
  /** Thumbnail widths asked of the stream and not seen yet, with when they were asked (see THUMB_WAIT_MS). */
  private readonly widthAsked = new Map<number, number>();
  /**
   * Widths whose thumbnails did not come within THUMB_WAIT_MS (frames reach this endpoint through nodes that drop
   * msg.thumbs, say): their later viewers do not wait again, until a thumbnail of that width does come.
   */
  private readonly thumbsMissing = new Set<number>();
  /** The last frame scaled to a width by us, while the stream's own thumbnail of it is missing (first pictures). */
  private scaled: { seq: number; width: number; part: Promise<Part | undefined> } | undefined;
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
        if (t && ts && ts.width * ts.height <= maxPixels) {
          (variants ??= new Map()).set(w, this.writer.part(t, seq, time));
          this.widthAsked.delete(w);
          this.thumbsMissing.delete(w);
        }
      }
    }
    this.lastVariants = variants;
    this.push(part, true, variants);
    return undefined;
  }

  /** A viewer watches this thumbnail width: until the stream's first thumbnail of it comes, its viewers wait for it. */
  widthWanted(width: number): void {
    if (this.widthAsked.has(width) || this.thumbsMissing.has(width) || this.lastVariants?.has(width)) return;
    this.widthAsked.set(width, this.opts.clock.now());
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
    this.widthAsked.delete(width);
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
      const own = viewer.variant ? this.lastVariants?.get(viewer.variant) : undefined;
      if (own) viewer.offer(own, this.hub.now());
      else if (viewer.variant && this.lastFrame) this.firstScaled(viewer, this.lastFrame);
      else {
        const part = this.realPart();
        if (part) viewer.offer(part, this.hub.now());
      }
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

  /**
   * A thumbnail viewer's first picture when the stream has no thumbnail of its width for the last frame (it is asked
   * for now): the last frame scaled to that width once, shared by every viewer that joins before the next frame. It
   * goes to the viewer only if nothing reached it meanwhile (its own thumbnail, or a placeholder); if it cannot be
   * made, the full frame.
   */
  private firstScaled(viewer: Viewer, last: LastFrame): void {
    const width = viewer.variant;
    let scaled = this.scaled;
    if (!scaled || scaled.seq !== last.seq || scaled.width !== width) {
      const { jpeg, seq, time } = last;
      const part = resizeJpeg(jpeg, width, this.opts.maxPixels).then(
        (small) => this.writer.part(small, seq, time),
        (err: unknown) => {
          this.opts.onError?.(err);
          return undefined;
        },
      );
      scaled = this.scaled = { seq, width, part };
    }
    const { seq } = scaled;
    void scaled.part.then((part) => {
      if (this.closed || viewer.gone || viewer.offered > 0) return;
      const chosen = part ?? this.realPart();
      if (!chosen) return;
      // Still the last frame: it stands for the stream's thumbnail of it (repeats and later viewers take it too).
      if (part && this.lastFrame?.seq === seq && !this.lastVariants?.has(width)) (this.lastVariants ??= new Map()).set(width, part);
      viewer.offer(chosen, this.hub.now());
    });
  }

  /** Widths whose viewers wait for their first thumbnail (only while a stream that can make them is served). */
  private withheld(): ReadonlySet<number> | undefined {
    if (this.widthAsked.size === 0) return undefined;
    if (!this.opts.source()) {
      this.widthAsked.clear();
      return undefined;
    }
    const now = this.opts.clock.now();
    for (const [w, at] of this.widthAsked) {
      if (now - at < THUMB_WAIT_MS) continue;
      this.widthAsked.delete(w);
      this.thumbsMissing.add(w);
    }
    return this.widthAsked.size > 0 ? new Set(this.widthAsked.keys()) : undefined;
  }

  private push(part: Part, live = false, variants?: ReadonlyMap<number, Part>): void {
    this.hub.push(part, live, variants, part.placeholder ? undefined : this.withheld());
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

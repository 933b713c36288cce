import type { Demand, ReleaseMode, UserCounters } from '../stream/stream';
import type { Clock, ClockTimer } from '../util/clock';
import type { EndpointSource } from './endpoint-source';
import type { Viewer, ViewerHub } from './viewer-hub';
import { TakeRate, type TakeRateOptions } from './viewer-rate';

export interface ViewerDemandOptions {
  /** The user id under which the endpoint registers with its stream; thumbnails and stills use ids derived from it. */
  consumerId: string;
  /** Demand the rate viewers really take (see MjpegEndpointOptions.adaptive). */
  adaptive: boolean;
  /** How often viewers' take rates are sampled. */
  sampleMs: number;
  rate?: TakeRateOptions | undefined;
  clock: Clock;
  /** Counters the stream reads for health and metrics. */
  counters: () => UserCounters;
}

/**
 * What an endpoint's viewers need of its stream, told to the stream whenever it changes: the JPEG at the highest
 * rate any viewer takes (sampled from what each really takes, see viewer-rate.ts), each thumbnail width while a viewer
 * of it watches, and a run while a still request waits.
 */
export class ViewerDemand {
  private source: EndpointSource | undefined;
  private readonly rates = new Map<Viewer, TakeRate>();
  /** Viewers per thumbnail width: a width is asked of the stream while it has viewers. */
  private readonly widthCount = new Map<number, number>();
  private sampleTimer: ClockTimer | undefined;
  /** The demand last told to the source, so an unchanged one is not told again (that would restart its grace). */
  private told: string | undefined;

  constructor(
    private readonly hub: ViewerHub,
    private readonly opts: ViewerDemandOptions,
  ) {}

  /** The stream to tell from now on: the previous one is left (`mode`), the new one told every current need. */
  setSource(source: EndpointSource | undefined, mode: ReleaseMode, stillWaiting: boolean): void {
    const old = this.source;
    if (old) {
      old.unuse(this.opts.consumerId, mode);
      old.unuse(this.stillId, mode);
      for (const w of this.widthCount.keys()) old.unuse(this.thumbId(w), mode);
    }
    this.source = source;
    this.told = undefined;
    if (!source) return;
    for (const w of this.widthCount.keys()) source.use(this.thumbId(w), { thumb: w });
    if (stillWaiting) source.use(this.stillId, { run: true });
  }

  /** Thumbnail widths in use by viewers now. */
  widths(): IterableIterator<number> {
    return this.widthCount.keys();
  }

  get hasWidths(): boolean {
    return this.widthCount.size > 0;
  }

  added(viewer: Viewer): void {
    this.rates.set(viewer, new TakeRate(this.opts.rate));
    if (viewer.variant) {
      const n = (this.widthCount.get(viewer.variant) ?? 0) + 1;
      this.widthCount.set(viewer.variant, n);
      if (n === 1) this.source?.use(this.thumbId(viewer.variant), { thumb: viewer.variant });
    }
  }

  /** A viewer left; returns the thumbnail width that nobody watches any more, if one. */
  removed(viewer: Viewer): number | undefined {
    this.rates.delete(viewer);
    const width = viewer.variant;
    if (!width) return undefined;
    const n = (this.widthCount.get(width) ?? 1) - 1;
    if (n > 0) {
      this.widthCount.set(width, n);
      return undefined;
    }
    this.widthCount.delete(width);
    this.source?.unuse(this.thumbId(width), 'grace');
    return width;
  }

  /** The take rate measured for a viewer (for tests that set what it took). */
  rateOf(viewer: Viewer): TakeRate | undefined {
    return this.rates.get(viewer);
  }

  /** A still request waits (the stream must run until it has a frame), or no longer does. */
  still(waiting: boolean): void {
    if (waiting) this.source?.use(this.stillId, { run: true });
    else this.source?.unuse(this.stillId, 'grace');
  }

  /** What the viewers need now: nothing, or the JPEG at the highest rate any of them takes (see MjpegEndpointOptions.adaptive). */
  demand(): Demand {
    if (this.hub.size === 0) return {};
    if (!this.opts.adaptive) return { run: true, jpeg: 'full' };
    const fps = this.source?.definition?.capture.fps;
    if (!fps) return { run: true, jpeg: 'full' };
    // The stream makes every n-th frame. Per viewer: a capped viewer needs the step at or above its cap; a slow one
    // the step at or below what it takes (the step above would be more than it can take). The stream makes the
    // smallest n any viewer needs.
    let every = Infinity;
    for (const v of this.hub) {
      const cap = v.capFps;
      const take = this.rates.get(v)?.need ?? Infinity;
      const n = take < cap ? Math.ceil(fps / take - 1e-9) : Math.floor(fps / cap + 1e-9);
      every = Math.min(every, Math.max(1, n));
      if (every === 1) break;
    }
    if (every <= 1) return { run: true, jpeg: 'full' };
    // A rate between two steps, so that float rounding in the stream cannot pick the wrong one.
    return { run: true, jpeg: fps / (every + 0.5) };
  }

  /** Tells the stream the viewers' demand, when it changed. */
  tell(): void {
    if (!this.source) return;
    const demand = this.demand();
    const key = JSON.stringify(demand);
    if (key === this.told) return;
    this.told = key;
    this.source.use(this.opts.consumerId, demand, this.opts.counters);
  }

  /** Samples the viewers' take rates while there are viewers (and the demand is adaptive); `viewers` 0 stops it. */
  arm(viewers: number): void {
    const { clock } = this.opts;
    if (viewers > 0 && this.opts.adaptive) {
      if (!this.sampleTimer) {
        this.sampleTimer = clock.setInterval(this.sample, this.opts.sampleMs);
        this.sampleTimer.unref?.();
      }
      return;
    }
    clock.clearInterval(this.sampleTimer);
    this.sampleTimer = undefined;
  }

  private readonly sample = (): void => {
    const t = this.opts.clock.now();
    const fps = this.source?.definition?.capture.fps || Infinity;
    for (const [viewer, rate] of this.rates) rate.sample(t, viewer.progress(), fps);
    this.tell();
  };

  private get stillId(): string {
    return `${this.opts.consumerId}:still`;
  }

  private thumbId(width: number): string {
    return `${this.opts.consumerId}:thumb${width}`;
  }
}

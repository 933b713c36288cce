import { EventEmitter } from 'node:events';
import { OutgoingMessage, type IncomingMessage, type ServerResponse } from 'node:http';
import { DEFAULT_MAX_PIXELS, jpegSize, jpegView, type JpegSize } from '../jpeg/jpeg-info';
import { MultipartWriter, type Part } from '../jpeg/multipart-writer';
import { DEFAULT_PLACEHOLDER_SIZE, PlaceholderCache, fitPixels } from './placeholder';
import type { Demand, ReleaseMode, StateChange, UserCounters } from '../stream/stream';
import { thumbWidthFor } from './thumb-widths';
import type { Frame, StreamState } from '../types';
import { ViewerHub, type HubCounts, type Refusal, type Viewer, type ViewerOptions, type ViewerSink } from './viewer-hub';
import { TakeRate, type TakeRateOptions } from './viewer-rate';

/** The stream an endpoint serves, as the endpoint needs it: state for placeholders, demand for its viewers. */
export interface EndpointSource {
  readonly state: StreamState;
  readonly lastError: string | undefined;
  latest(): Frame | undefined;
  use(userId: string, demand: Demand, counters?: () => UserCounters): void;
  unuse(userId: string, mode: ReleaseMode): void;
  /** The stream's definition: a demand at its frame rate or above is every frame. */
  readonly definition?: { readonly capture: { readonly fps: number } } | undefined;
  /** Whether the stream's motion-detect sees motion now; undefined when nothing watches it for motion. */
  readonly motion?: boolean | undefined;
  on(event: 'state', listener: (change: StateChange) => void): unknown;
  on(event: 'motion', listener: (active: boolean) => void): unknown;
  off(event: 'state', listener: (change: StateChange) => void): unknown;
  off(event: 'motion', listener: (active: boolean) => void): unknown;
}

/** What one viewer asks for in its request: `?fps=`, `?width=`, `?idlefps=`. */
export interface ViewerRequest {
  /** Cap on frames per second. */
  maxFps?: number;
  /** Wanted picture width: served from a thumbnail output of about that width (thumb-widths.ts). */
  width?: number;
  /** Motion-aware: this many frames per second while the stream's motion-detect sees nothing move. */
  idleFps?: number;
}

export interface MjpegEndpointOptions {
  /** Shown on placeholders. */
  name: string;
  /** The user id under which the endpoint registers with its stream (the node id). */
  consumerId: string;
  maxViewers: number;
  /** Viewers per client address (default: a tenth of maxViewers, at least 1). */
  maxPerAddress?: number;
  stallTimeoutMs: number;
  stillTimeoutMs: number;
  /** Frames larger than this many pixels are refused (read from the JPEG header, nothing decoded). */
  maxPixels?: number;
  /** With frames flowing but none new for this long, the last frame is sent again. */
  repeatMs?: number;
  /** Placeholder period while the source is down or not yet producing. */
  placeholderMs?: number;
  /** No frame for this long: the stream is treated as stopped and placeholders are shown. */
  staleMs?: number;
  boundary?: string;
  /** Reports failures that must not end the stream (a placeholder that could not be drawn). */
  onError?: (err: unknown) => void;
  /**
   * Demand the rate viewers really take (default): when every viewer is slow, capped or motion-aware while nothing
   * moves, the stream encodes fewer JPEGs. Off: every frame while anyone watches.
   */
  adaptive?: boolean;
  /** How often viewers' take rates are sampled for the adaptive demand. */
  sampleMs?: number;
  rate?: TakeRateOptions;
}


interface LastFrame {
  jpeg: Buffer;
  seq: number;
  time: number;
  /** Monotonic ms at arrival. */
  at: number;
}

export class FrameTooLargeError extends Error {
  override readonly name = 'FrameTooLargeError';
}

const DOWN_STATES: ReadonlySet<StreamState> = new Set(['recovering', 'failed']);
const NOT_PRODUCING: ReadonlySet<StreamState> = new Set(['idle', 'starting', 'recovering', 'failed']);
const RETRY_AFTER_S = '5';

function now(): number {
  return performance.now();
}

function positiveParam(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** The `fps` query parameter of a request URL, or undefined when absent or not a positive number. */
export function fpsFromUrl(url: string | undefined): number | undefined {
  return viewerRequestFromUrl(url).maxFps;
}

/** A viewer's `fps`, `width` and `idlefps` query parameters; absent or not positive numbers are left out. */
export function viewerRequestFromUrl(url: string | undefined): ViewerRequest {
  const q = url?.indexOf('?') ?? -1;
  if (!url || q < 0) return {};
  const params = new URLSearchParams(url.slice(q + 1));
  const out: ViewerRequest = {};
  const maxFps = positiveParam(params, 'fps');
  const width = positiveParam(params, 'width');
  const idleFps = positiveParam(params, 'idlefps');
  if (maxFps !== undefined) out.maxFps = maxFps;
  if (width !== undefined) out.width = Math.round(width);
  if (idleFps !== undefined) out.idleFps = idleFps;
  return out;
}

/**
 * One MJPEG stream endpoint and its still image: frames in (from the wire), viewers out, placeholders while the
 * stream is down, and the viewers' demand told to the stream (full-rate JPEG while anyone watches). It can outlive
 * its node across a deploy: the successor calls setSource() and keeps the open connections.
 * Events: 'viewers' (count).
 */
export class MjpegEndpoint extends EventEmitter {
  readonly hub: ViewerHub;
  readonly writer: MultipartWriter;
  readonly placeholders = new PlaceholderCache();
  framesIn = 0;
  placeholdersSent = 0;
  refusedFrames = 0;
  private readonly opts: Required<Omit<MjpegEndpointOptions, 'onError' | 'boundary' | 'maxPerAddress' | 'rate'>> &
    Pick<MjpegEndpointOptions, 'onError' | 'maxPerAddress' | 'rate'>;
  private source: EndpointSource | undefined;
  private last: LastFrame | undefined;
  private lastRealPart: Part | undefined;
  private lastPlaceholder: { part: Part; at: number; src: Buffer } | undefined;
  private lastPushWasPlaceholder = false;
  private size: JpegSize | undefined;
  private keepTimer: NodeJS.Timeout | undefined;
  private keepDelay = 0;
  private rendering = false;
  private stateChangedAt = -Infinity;
  private readonly stillWaiters = new Set<(jpeg: Buffer | undefined) => void>();
  private closed = false;
  /** Viewers per thumbnail width: a width is asked of the stream while it has viewers. */
  private readonly variantCount = new Map<number, number>();
  /** The thumbnail parts of the last frame, by width. */
  private lastVariants: Map<number, Part> | undefined;
  private readonly rates = new Map<Viewer, TakeRate>();
  private sampleTimer: NodeJS.Timeout | undefined;
  /** The demand last told to the source, so an unchanged one is not told again (that would restart its grace). */
  private toldDemand: string | undefined;

  constructor(opts: MjpegEndpointOptions) {
    super();
    this.opts = {
      repeatMs: 2000,
      placeholderMs: 1000,
      staleMs: 10000,
      maxPixels: DEFAULT_MAX_PIXELS,
      adaptive: true,
      sampleMs: 1000,
      ...opts,
    };
    this.writer = new MultipartWriter(opts.boundary);
    this.hub = new ViewerHub({
      maxViewers: opts.maxViewers,
      maxPerAddress: opts.maxPerAddress ?? Math.max(1, Math.ceil(opts.maxViewers / 10)),
      stallTimeoutMs: opts.stallTimeoutMs,
    });
    this.hub.on('count', (n: number) => {
      if (n === 0) {
        this.clearKeep();
        this.lastRealPart = undefined;
        this.lastVariants = undefined;
      }
      this.armSampling(n);
      this.tellDemand();
      this.emit('viewers', n);
    });
    this.hub.on('removed', (viewer: Viewer) => {
      this.rates.delete(viewer);
      if (viewer.variant) this.releaseVariant(viewer.variant);
    });
  }

  /** The name shown on placeholders and the viewer page. */
  get name(): string {
    return this.opts.name;
  }

  /** The served stream's state and its reason (undefined without a stream: frames come from other nodes). */
  get stateInfo(): { state: StreamState | undefined; reason: string | undefined } {
    return { state: this.source?.state, reason: this.source?.lastError };
  }

  /** Whether the stream's motion-detect sees motion (undefined when none watches it). */
  get motion(): boolean | undefined {
    return this.source?.motion;
  }

  /** A frame arrived within the stale period (the endpoint shows pictures, not placeholders, if the state allows). */
  get fresh(): boolean {
    return this.last !== undefined && now() - this.last.at < this.opts.staleMs;
  }

  /** Thumbnail widths in use by viewers now. */
  thumbWidths(): number[] {
    return [...this.variantCount.keys()];
  }

  get viewers(): number {
    return this.hub.size;
  }

  get streamState(): StreamState | undefined {
    return this.source?.state;
  }

  /** For leak checks: viewer timers and listeners plus the endpoint's own. */
  counts(): HubCounts & { keepTimer: boolean; stillWaiters: number; boundSources: number } {
    return {
      ...this.hub.counts(),
      keepTimer: this.keepTimer !== undefined,
      stillWaiters: this.stillWaiters.size,
      boundSources: this.source ? 1 : 0,
    };
  }

  /** Counters the stream reads for health and metrics (kept in the hub, where they happen). */
  readonly counters = (): UserCounters => ({ viewers: this.hub.size, droppedFrames: this.hub.droppedParts, latency: this.hub.latency });

  /**
   * The stream this endpoint serves (or none, when frames come from other nodes): its state drives placeholders and
   * the endpoint's viewers become its demand. `mode` says how the previous stream is left.
   */
  setSource(source: EndpointSource | undefined, mode: ReleaseMode = 'grace'): void {
    if (source === this.source) {
      this.tellDemand();
      return;
    }
    if (this.source) {
      this.source.off('state', this.onState);
      this.source.off('motion', this.onMotion);
      this.source.unuse(this.opts.consumerId, mode);
      this.source.unuse(this.stillId, mode);
      for (const w of this.variantCount.keys()) this.source.unuse(this.thumbId(w), mode);
    }
    this.source = source;
    this.toldDemand = undefined;
    if (source) {
      source.on('state', this.onState);
      source.on('motion', this.onMotion);
      if (NOT_PRODUCING.has(source.state)) this.stateChangedAt = now();
      for (const w of this.variantCount.keys()) source.use(this.thumbId(w), { thumb: w });
      this.followMotion();
      if (this.stillWaiters.size > 0) source.use(this.stillId, { run: true });
    }
  }

  /**
   * A JPEG arrived (validated with jpegView), with the stream's thumbnails of the same frame by width when it made
   * any. Returns an error, and serves nothing of it, when its header declares more pixels than the cap.
   */
  frame(jpeg: Buffer, seq = this.framesIn + 1, time = Date.now(), thumbs?: Readonly<Record<string, Buffer>>): FrameTooLargeError | undefined {
    if (this.closed) return undefined;
    const size = jpegSize(jpeg);
    if (size && size.width * size.height > this.opts.maxPixels) {
      this.refusedFrames++;
      return new FrameTooLargeError(`frame of ${size.width}x${size.height} is over the limit of ${this.opts.maxPixels} pixels; dropped`);
    }
    this.framesIn++;
    this.last = { jpeg, seq, time, at: now() };
    if (size) this.size = size;
    if (this.stillWaiters.size > 0) for (const waiter of [...this.stillWaiters]) waiter(jpeg);
    if (this.hub.size === 0) {
      this.lastRealPart = undefined;
      this.lastVariants = undefined;
      return undefined;
    }
    const part = this.writer.part(jpeg, seq, time);
    this.lastRealPart = part;
    let variants: Map<number, Part> | undefined;
    if (thumbs && this.variantCount.size > 0) {
      for (const w of this.variantCount.keys()) {
        // From other nodes a "thumbnail" may be anything: only a JPEG no larger than the cap is served.
        const t = jpegView(thumbs[String(w)]);
        const ts = t && jpegSize(t);
        if (t && ts && ts.width * ts.height <= this.opts.maxPixels) (variants ??= new Map()).set(w, this.writer.part(t, seq, time));
      }
    }
    this.lastVariants = variants;
    this.push(part, true, variants);
    return undefined;
  }

  /**
   * Adds a viewer that is not an HTTP response of this endpoint (the viewer page's multiplexed connection): it
   * counts as a viewer (demand, limits, status) and gets every part as the endpoint's own viewers do. Returns why
   * it was refused instead, when it was.
   */
  attach(sink: ViewerSink, req: ViewerRequest, opts: Omit<ViewerOptions, 'variant' | 'maxFps' | 'idleFps'> = {}): Viewer | Refusal | 'closed' {
    if (this.closed) return 'closed';
    const refusal = this.hub.admit(opts.address ?? '');
    if (refusal) return refusal;
    return this.addViewer(sink, req, opts) ?? 'full';
  }

  serveStream(req: IncomingMessage, res: ServerResponse): void {
    const socket = res.socket;
    // A client that reset its connection before we got here must never be counted as a viewer.
    if (!socket || socket.destroyed || res.destroyed || req.destroyed) return;
    if (this.closed) return this.refuse(res, 503, 'endpoint closed');
    const address = socket.remoteAddress ?? '';
    const refusal = this.hub.admit(address);
    if (refusal === 'full') return this.refuse(res, 503, 'too many viewers');
    if (refusal === 'address') return this.refuse(res, 429, 'too many viewers from this address');
    const head = req.method === 'HEAD';
    // The body needs no chunked framing: it ends with the connection (`Connection: close`), as mjpg-streamer
    // and motion send it. Without chunk headers every part can go to the socket as it is.
    if (!head) res.useChunkedEncodingByDefault = false;
    res.writeHead(200, this.writer.responseHeaders(head));
    if (head) {
      res.end();
      return;
    }
    // Frames are written whole; Nagle would hold back each frame's tail.
    socket.setNoDelay(true);
    // Clients (Home Assistant, ffmpeg) wait for the headers; without this they come with the first part.
    res.flushHeaders();
    // Straight to the socket when the head is already on it (the response owns the socket, not queued behind a
    // pipelined one) and no middleware wrapped res.write (compression, say), which a socket write would bypass.
    const direct =
      !res.chunkedEncoding &&
      res.write === OutgoingMessage.prototype.write &&
      res.writableLength === socket.writableLength;
    const ports = socket.localPort !== undefined && socket.remotePort !== undefined ? { local: socket.localPort, remote: socket.remotePort } : undefined;
    this.addViewer(res, viewerRequestFromUrl(req.url), { ...(direct ? { socket } : {}), address, ...(ports ? { ports } : {}) });
  }

  serveStill(req: IncomingMessage, res: ServerResponse): void {
    const head = req.method === 'HEAD';
    if (this.last && !this.needsPlaceholder()) {
      this.sendJpeg(res, this.last.jpeg, head);
      return;
    }
    if (head || this.closed) {
      this.refuse(res, 503, 'no frame yet');
      return;
    }
    const source = this.source;
    if (!source || DOWN_STATES.has(source.state)) {
      this.refuse(res, 503, source ? `source ${source.state}` : 'no frame yet');
      return;
    }
    if (this.stillWaiters.size === 0) source.use(this.stillId, { run: true });
    let finished = false;
    const finish = (jpeg: Buffer | undefined): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      res.off('close', onClose);
      this.stillWaiters.delete(finish);
      if (this.stillWaiters.size === 0) this.source?.unuse(this.stillId, 'grace');
      if (res.destroyed || res.writableEnded) return;
      if (jpeg) this.sendJpeg(res, jpeg, false);
      else this.refuse(res, 503, 'no frame within the still timeout');
    };
    const onClose = (): void => finish(undefined);
    const timer = setTimeout(finish, this.opts.stillTimeoutMs, undefined);
    res.on('close', onClose);
    this.stillWaiters.add(finish);
  }

  close(mode: ReleaseMode = 'grace'): void {
    if (this.closed) return;
    this.closed = true;
    for (const waiter of [...this.stillWaiters]) waiter(undefined);
    this.hub.closeAll();
    this.setSource(undefined, mode);
    this.clearKeep();
    this.armSampling(0);
  }

  private get stillId(): string {
    return `${this.opts.consumerId}:still`;
  }

  private thumbId(width: number): string {
    return `${this.opts.consumerId}:thumb${width}`;
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

  private tellDemand(): void {
    if (!this.source) return;
    const demand = this.demand();
    const key = JSON.stringify(demand);
    if (key === this.toldDemand) return;
    this.toldDemand = key;
    this.source.use(this.opts.consumerId, demand, this.counters);
  }

  private addViewer(sink: ViewerSink, req: ViewerRequest, opts: Omit<ViewerOptions, 'variant' | 'maxFps' | 'idleFps'>): Viewer | undefined {
    const variant = thumbWidthFor(req.width, this.size?.width, this.variantCount.keys());
    const viewer = this.hub.add(sink, {
      ...opts,
      ...(req.maxFps ? { maxFps: req.maxFps } : {}),
      ...(req.idleFps ? { idleFps: req.idleFps } : {}),
      ...(variant ? { variant } : {}),
    });
    if (!viewer) return undefined;
    if (variant) {
      const n = (this.variantCount.get(variant) ?? 0) + 1;
      this.variantCount.set(variant, n);
      if (n === 1) this.source?.use(this.thumbId(variant), { thumb: variant });
    }
    this.rates.set(viewer, new TakeRate(this.opts.rate));
    viewer.setStill(this.source?.motion === false);
    this.tellDemand();
    this.firstPart(viewer);
    return viewer;
  }

  private releaseVariant(width: number): void {
    const n = (this.variantCount.get(width) ?? 1) - 1;
    if (n > 0) {
      this.variantCount.set(width, n);
      return;
    }
    this.variantCount.delete(width);
    this.lastVariants?.delete(width);
    this.source?.unuse(this.thumbId(width), 'grace');
  }

  private armSampling(viewers: number): void {
    if (viewers > 0 && this.opts.adaptive && !this.closed) {
      if (!this.sampleTimer) {
        this.sampleTimer = setInterval(this.sampleRates, this.opts.sampleMs);
        this.sampleTimer.unref?.();
      }
      return;
    }
    clearInterval(this.sampleTimer);
    this.sampleTimer = undefined;
  }

  private readonly sampleRates = (): void => {
    const t = now();
    const fps = this.source?.definition?.capture.fps || Infinity;
    for (const [viewer, rate] of this.rates) rate.sample(t, viewer.progress(), fps);
    this.tellDemand();
  };

  /** Motion-aware viewers go to their idle rate while nothing moves and are back to full rate at once, and the demand with them. */
  private followMotion(): void {
    const still = this.source?.motion === false;
    for (const v of this.hub) v.setStill(still);
    this.tellDemand();
  }

  private readonly onMotion = (active: boolean): void => {
    this.followMotion();
    this.emit('motion', active);
  };

  // --- frames to viewers -------------------------------------------------------------------------

  private push(part: Part, live = false, variants?: ReadonlyMap<number, Part>): void {
    this.hub.push(part, live, variants);
    this.lastPushWasPlaceholder = part.placeholder;
    if (part.placeholder) this.placeholdersSent++;
    this.armKeep();
  }

  private firstPart(viewer: Viewer): void {
    if (!this.keepTimer) this.armKeep();
    if (!this.needsPlaceholder()) {
      const part = (viewer.variant && this.lastVariants?.get(viewer.variant)) || this.realPart();
      if (part) viewer.offer(part, this.hub.now());
      return;
    }
    const ph = this.lastPlaceholder;
    if (ph && now() - ph.at < this.opts.placeholderMs) viewer.offer(ph.part, this.hub.now());
    else this.sendPlaceholder();
  }

  private realPart(): Part | undefined {
    if (!this.lastRealPart && this.last) {
      this.lastRealPart = this.writer.part(this.last.jpeg, this.last.seq, this.last.time);
    }
    return this.lastRealPart;
  }

  /** Recovering/failed, nothing yet, or nothing for staleMs: viewers get placeholders instead of a frozen frame. */
  private needsPlaceholder(): boolean {
    const last = this.last;
    if (!last) return true;
    if (now() - last.at >= this.opts.staleMs) return true;
    const state = this.source?.state;
    // A frame newer than the last state change proves the source produces, whatever the state lags behind.
    return state !== undefined && NOT_PRODUCING.has(state) && !(last.at > this.stateChangedAt);
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
    this.keepTimer = setTimeout(this.keepFired, delay);
  }

  private clearKeep(): void {
    if (this.keepTimer) clearTimeout(this.keepTimer);
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
    const state = this.source?.state;
    const label = !this.last
      ? state && state !== 'healthy' && state !== 'degraded'
        ? state
        : 'waiting for frames'
      : state && NOT_PRODUCING.has(state)
        ? state
        : 'no signal';
    const detail = state && DOWN_STATES.has(state) ? this.source?.lastError : undefined;
    const { width, height } = fitPixels(this.size ?? DEFAULT_PLACEHOLDER_SIZE, this.opts.maxPixels);
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
            ph = { part: this.writer.part(jpeg, 0, Date.now(), true), at: now(), src: jpeg };
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

  private readonly onState = (change: StateChange): void => {
    this.emit('state', change);
    this.stateChangedAt = now();
    // Switch to placeholders at once rather than after the repeat period.
    if (this.needsPlaceholder() && !this.lastPushWasPlaceholder && this.hub.size > 0) {
      this.clearKeep();
      this.sendPlaceholder();
    }
  };

  // --- responses ---------------------------------------------------------------------------------

  private sendJpeg(res: ServerResponse, jpeg: Buffer, head: boolean): void {
    res.writeHead(200, {
      'Content-Type': 'image/jpeg',
      'Content-Length': String(jpeg.length),
      'Cache-Control': 'no-cache, no-store, must-revalidate, private, max-age=0',
      Pragma: 'no-cache',
      Expires: '0',
    });
    if (head) res.end();
    else res.end(jpeg);
  }

  private refuse(res: ServerResponse, status: 503 | 429, reason: string): void {
    const body = `${status} ${status === 429 ? 'Too Many Requests' : 'Service Unavailable'}: ${reason}\n`;
    res.writeHead(status, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(body)),
      'Retry-After': RETRY_AFTER_S,
      'Cache-Control': 'no-store',
    });
    res.end(body);
  }
}

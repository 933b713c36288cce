import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_MAX_PIXELS } from '../jpeg/jpeg-info';
import { MultipartWriter } from '../jpeg/multipart-writer';
import type { Demand, ReleaseMode, StateChange, UserCounters } from '../stream/stream';
import type { StreamState } from '../types';
import { systemClock, type Clock } from '../util/clock';
import { DOWN_STATES, type EndpointSource } from './endpoint-source';
import { FrameIntake, FrameTooLargeError } from './frame-intake';
import { refuse, sendJpeg, startStreamReply } from './http-replies';
import type { PlaceholderCache } from './placeholder';
import { StillWaiters } from './still-waiters';
import { thumbWidthFor } from './thumb-widths';
import { ViewerDemand } from './viewer-demand';
import { ViewerHub, type HubCounts, type Refusal, type Viewer, type ViewerOptions, type ViewerSink } from './viewer-hub';
import type { TakeRateOptions } from './viewer-rate';
import { fpsFromUrl, viewerRequestFromUrl, type ViewerRequest } from './viewer-request';

export { FrameTooLargeError, fpsFromUrl, viewerRequestFromUrl, type EndpointSource, type ViewerRequest };

/** Why a down camera has no picture, as a refused still says it. */
function cameraDown(source: EndpointSource): string {
  return source.lastError ? `camera ${source.state}: ${source.lastError}` : `camera ${source.state}`;
}

export interface MjpegEndpointOptions {
  /** Shown on placeholders. */
  name: string;
  /** The user id under which the endpoint registers with its stream (the node id). */
  consumerId: string;
  maxViewers: number;
  /**
   * Viewers per client address; default: no limit (Home Assistant and reverse proxies bring every viewer from one
   * address). Either way a full stream gives a newcomer a slot of the address that holds the most.
   */
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
  /** Time and timers (repeats, placeholders, stale frames, still timeouts, sweeps); tests hand in their own. */
  clock?: Clock;
}

/**
 * One MJPEG stream endpoint and its still image: frames in (from the wire), viewers out, placeholders while the
 * stream is down, and the viewers' demand told to the stream (full-rate JPEG while anyone watches). It can outlive
 * its node across a deploy: the successor calls setSource() and keeps the open connections.
 * Events: 'viewers' (count), 'state' (StateChange), 'motion' (active).
 */
export class MjpegEndpoint extends EventEmitter {
  readonly hub: ViewerHub;
  readonly writer: MultipartWriter;
  private readonly clock: Clock;
  private readonly intake: FrameIntake;
  private readonly viewerDemand: ViewerDemand;
  private readonly stills: StillWaiters;
  private source: EndpointSource | undefined;
  private closed = false;
  /** Viewers refused, by why: the stream was full, or their address held its share. */
  private readonly refusedViewers: Record<Refusal, number> = { full: 0, address: 0 };

  constructor(private readonly opts: MjpegEndpointOptions) {
    super();
    this.clock = opts.clock ?? systemClock;
    this.writer = new MultipartWriter(opts.boundary);
    this.hub = new ViewerHub({
      maxViewers: opts.maxViewers,
      ...(opts.maxPerAddress ? { maxPerAddress: opts.maxPerAddress } : {}),
      stallTimeoutMs: opts.stallTimeoutMs,
      clock: this.clock,
    });
    this.viewerDemand = new ViewerDemand(this.hub, {
      consumerId: opts.consumerId,
      adaptive: opts.adaptive ?? true,
      sampleMs: opts.sampleMs ?? 1000,
      rate: opts.rate,
      clock: this.clock,
      counters: this.counters,
    });
    this.intake = new FrameIntake(this.hub, this.writer, {
      name: opts.name,
      maxPixels: opts.maxPixels ?? DEFAULT_MAX_PIXELS,
      repeatMs: opts.repeatMs ?? 2000,
      placeholderMs: opts.placeholderMs ?? 1000,
      staleMs: opts.staleMs ?? 10000,
      clock: this.clock,
      source: () => this.source,
      widths: () => this.viewerDemand.widths(),
      onError: opts.onError,
    });
    this.stills = new StillWaiters(this.clock, opts.stillTimeoutMs, (waiting) => this.viewerDemand.still(waiting));
    this.hub.on('count', (n: number) => {
      if (n === 0) this.intake.noViewers();
      this.viewerDemand.arm(this.closed ? 0 : n);
      this.viewerDemand.tell();
      this.emit('viewers', n);
    });
    this.hub.on('removed', (viewer: Viewer) => {
      const gone = this.viewerDemand.removed(viewer);
      if (gone) this.intake.widthGone(gone);
    });
  }

  /** The name shown on placeholders and the viewer page. */
  get name(): string {
    return this.opts.name;
  }

  get placeholders(): PlaceholderCache {
    return this.intake.placeholders;
  }

  /** Frames taken in, placeholders sent to viewers, frames refused for their size. */
  get framesIn(): number {
    return this.intake.framesIn;
  }
  get placeholdersSent(): number {
    return this.intake.placeholdersSent;
  }
  get refusedFrames(): number {
    return this.intake.refusedFrames;
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
    return this.intake.fresh;
  }

  /** Thumbnail widths in use by viewers now. */
  thumbWidths(): number[] {
    return [...this.viewerDemand.widths()];
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
      keepTimer: this.intake.keeping,
      stillWaiters: this.stills.size,
      boundSources: this.source ? 1 : 0,
    };
  }

  /** Viewers refused so far, by reason (429: their address held its share; 503: the stream was full). */
  get refused(): Readonly<Record<Refusal, number>> {
    return this.refusedViewers;
  }

  /** Counters the stream reads for health and metrics (kept in the hub, where they happen). */
  readonly counters = (): UserCounters => ({
    viewers: this.hub.size,
    droppedFrames: this.hub.droppedParts,
    latency: this.hub.latency,
    viewersRefused: this.refusedViewers,
  });

  /**
   * The stream this endpoint serves (or none, when frames come from other nodes): its state drives placeholders and
   * the endpoint's viewers become its demand. `mode` says how the previous stream is left.
   */
  setSource(source: EndpointSource | undefined, mode: ReleaseMode = 'grace'): void {
    if (source === this.source) {
      this.viewerDemand.tell();
      return;
    }
    if (this.source) {
      this.source.off('state', this.onState);
      this.source.off('motion', this.onMotion);
    }
    this.viewerDemand.setSource(source, mode, this.stills.size > 0);
    this.source = source;
    this.intake.sourceSet(source);
    if (source) {
      source.on('state', this.onState);
      source.on('motion', this.onMotion);
      this.followMotion();
    }
  }

  /**
   * A JPEG arrived (validated with jpegView), with the stream's thumbnails of the same frame by width when it made
   * any. Returns an error, and serves nothing of it, when its header declares more pixels than the cap.
   */
  frame(jpeg: Buffer, seq = this.intake.framesIn + 1, time = Date.now(), thumbs?: Readonly<Record<string, Buffer>>): FrameTooLargeError | undefined {
    if (this.closed) return undefined;
    const refused = this.intake.frame(jpeg, seq, time, thumbs);
    if (!refused) this.stills.deliver(jpeg);
    return refused;
  }

  /**
   * Adds a viewer that is not an HTTP response of this endpoint (the viewer page's multiplexed connection): it
   * counts as a viewer (demand, limits, status) and gets every part as the endpoint's own viewers do. Returns why
   * it was refused instead, when it was.
   */
  attach(sink: ViewerSink, req: ViewerRequest, opts: Omit<ViewerOptions, 'variant' | 'maxFps' | 'idleFps'> = {}): Viewer | Refusal | 'closed' {
    if (this.closed) return 'closed';
    const refusal = this.hub.admit(opts.address ?? '');
    if (refusal) {
      this.refusedViewers[refusal]++;
      return refusal;
    }
    return this.addViewer(sink, req, opts) ?? 'full';
  }

  /**
   * A viewer's request. `address` is the client's address as the HTTP server determined it (Express's req.ip, which
   * follows X-Forwarded-For where `trust proxy` says so); default: the socket's peer.
   */
  serveStream(req: IncomingMessage, res: ServerResponse, address?: string): void {
    const socket = res.socket;
    // A client that reset its connection before we got here must never be counted as a viewer.
    if (!socket || socket.destroyed || res.destroyed || req.destroyed) return;
    if (this.closed) return refuse(res, 503, 'endpoint closed');
    const client = address ?? socket.remoteAddress ?? '';
    const refusal = this.hub.admit(client);
    if (refusal) this.refusedViewers[refusal]++;
    if (refusal === 'full') return refuse(res, 503, 'too many viewers');
    if (refusal === 'address') return refuse(res, 429, 'too many viewers from this address');
    const reply = startStreamReply(req, res, this.writer);
    if (reply) this.addViewer(res, viewerRequestFromUrl(req.url), { ...reply, address: client });
  }

  serveStill(req: IncomingMessage, res: ServerResponse): void {
    const head = req.method === 'HEAD';
    const last = this.intake.last;
    if (last && !this.intake.needsPlaceholder()) return sendJpeg(res, last.jpeg, head);
    if (head || this.closed) return refuse(res, 503, 'no frame yet');
    const source = this.source;
    if (!source) return refuse(res, 503, 'no frame yet');
    // A camera that cannot deliver: say so at once, rather than after the still timeout.
    if (DOWN_STATES.has(source.state)) return refuse(res, 503, cameraDown(source));
    this.stills.wait((jpeg, why) => {
      if (res.destroyed || res.writableEnded) return;
      if (jpeg) sendJpeg(res, jpeg, false);
      else refuse(res, 503, why ?? 'no frame within the still timeout');
    }, res);
  }

  close(mode: ReleaseMode = 'grace'): void {
    if (this.closed) return;
    this.closed = true;
    this.stills.cancelAll();
    this.hub.closeAll();
    this.setSource(undefined, mode);
    this.intake.close();
    this.viewerDemand.arm(0);
  }

  /** What the viewers need now: nothing, or the JPEG at the highest rate any of them takes (see MjpegEndpointOptions.adaptive). */
  demand(): Demand {
    return this.viewerDemand.demand();
  }

  /** The viewers' demand and take rates (for tests of the adaptive rate). */
  get demandOfViewers(): ViewerDemand {
    return this.viewerDemand;
  }

  private addViewer(sink: ViewerSink, req: ViewerRequest, opts: Omit<ViewerOptions, 'variant' | 'maxFps' | 'idleFps'>): Viewer | undefined {
    const variant = thumbWidthFor(req.width, this.intake.size?.width, this.viewerDemand.widths());
    const viewer = this.hub.add(sink, {
      ...opts,
      ...(req.maxFps ? { maxFps: req.maxFps } : {}),
      ...(req.idleFps ? { idleFps: req.idleFps } : {}),
      ...(variant ? { variant } : {}),
    });
    if (!viewer) return undefined;
    this.viewerDemand.added(viewer);
    if (viewer.variant) this.intake.widthWanted(viewer.variant);
    viewer.setStill(this.source?.motion === false);
    this.viewerDemand.tell();
    this.intake.firstPart(viewer);
    return viewer;
  }

  /** Motion-aware viewers go to their idle rate while nothing moves and are back to full rate at once, and the demand with them. */
  private followMotion(): void {
    const still = this.source?.motion === false;
    for (const v of this.hub) v.setStill(still);
    this.viewerDemand.tell();
  }

  private readonly onMotion = (active: boolean): void => {
    this.followMotion();
    this.emit('motion', active);
  };

  private readonly onState = (change: StateChange): void => {
    this.emit('state', change);
    this.intake.stateChanged();
    // Waiting stills of a camera that failed (a refused one, or one no source defines once a deploy is over) are
    // answered now; a recovering camera may still deliver within their timeout.
    if (change.state === 'failed' && this.source) this.stills.cancelAll(cameraDown(this.source));
  };
}

import { EventEmitter } from 'node:events';
import { OutgoingMessage, type IncomingMessage, type ServerResponse } from 'node:http';
import { jpegSize, type JpegSize } from './jpeg-info';
import { MultipartWriter, type Part } from './multipart-writer';
import { DEFAULT_PLACEHOLDER_SIZE, PlaceholderCache, fitPixels } from './placeholder';
import type { Demand, ReleaseMode, StateChange, UserCounters } from './stream';
import type { Frame, StreamState } from './types';
import { ViewerHub, type HubCounts, type Viewer } from './viewer-hub';

/** The stream an endpoint serves, as the endpoint needs it: state for placeholders, demand for its viewers. */
export interface EndpointSource {
  readonly state: StreamState;
  readonly lastError: string | undefined;
  latest(): Frame | undefined;
  use(userId: string, demand: Demand, counters?: () => UserCounters): void;
  unuse(userId: string, mode: ReleaseMode): void;
  on(event: 'state', listener: (change: StateChange) => void): unknown;
  off(event: 'state', listener: (change: StateChange) => void): unknown;
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
}

/** 4K UHD: the default cap on a frame's pixels. */
export const DEFAULT_MAX_PIXELS = 3840 * 2160;

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

/** The `fps` query parameter of a request URL, or undefined when absent or not a positive number. */
export function fpsFromUrl(url: string | undefined): number | undefined {
  const q = url?.indexOf('?') ?? -1;
  if (!url || q < 0) return undefined;
  const raw = new URLSearchParams(url.slice(q + 1)).get('fps');
  if (raw === null) return undefined;
  const fps = Number(raw);
  return Number.isFinite(fps) && fps > 0 ? fps : undefined;
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
  private readonly opts: Required<Omit<MjpegEndpointOptions, 'onError' | 'boundary' | 'maxPerAddress'>> &
    Pick<MjpegEndpointOptions, 'onError' | 'maxPerAddress'>;
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

  constructor(opts: MjpegEndpointOptions) {
    super();
    this.opts = {
      repeatMs: 2000,
      placeholderMs: 1000,
      staleMs: 10000,
      maxPixels: DEFAULT_MAX_PIXELS,
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
      }
      this.tellDemand();
      this.emit('viewers', n);
    });
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
      this.source.unuse(this.opts.consumerId, mode);
      this.source.unuse(this.stillId, mode);
    }
    this.source = source;
    if (source) {
      source.on('state', this.onState);
      if (NOT_PRODUCING.has(source.state)) this.stateChangedAt = now();
      this.tellDemand();
      if (this.stillWaiters.size > 0) source.use(this.stillId, { run: true });
    }
  }

  /**
   * A JPEG arrived (validated with jpegView). Returns an error, and serves nothing of it, when its header declares
   * more pixels than the cap.
   */
  frame(jpeg: Buffer, seq = this.framesIn + 1, time = Date.now()): FrameTooLargeError | undefined {
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
      return undefined;
    }
    const part = this.writer.part(jpeg, seq, time);
    this.lastRealPart = part;
    this.push(part, true);
    return undefined;
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
    const maxFps = fpsFromUrl(req.url);
    const ports = socket.localPort !== undefined && socket.remotePort !== undefined ? { local: socket.localPort, remote: socket.remotePort } : undefined;
    const viewer = this.hub.add(res, { ...(maxFps ? { maxFps } : {}), ...(direct ? { socket } : {}), address, ...(ports ? { ports } : {}) });
    if (viewer) this.firstPart(viewer);
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
  }

  private get stillId(): string {
    return `${this.opts.consumerId}:still`;
  }

  private tellDemand(): void {
    this.source?.use(this.opts.consumerId, this.hub.size > 0 ? { run: true, jpeg: 'full' } : {}, this.counters);
  }

  // --- frames to viewers -------------------------------------------------------------------------

  private push(part: Part, live = false): void {
    this.hub.push(part, live);
    this.lastPushWasPlaceholder = part.placeholder;
    if (part.placeholder) this.placeholdersSent++;
    this.armKeep();
  }

  private firstPart(viewer: Viewer): void {
    if (!this.keepTimer) this.armKeep();
    if (!this.needsPlaceholder()) {
      const part = this.realPart();
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
    if (part) this.push(part);
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

  private readonly onState = (): void => {
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

import { EventEmitter } from 'node:events';
import { OutgoingMessage, type IncomingMessage, type ServerResponse } from 'node:http';
import { jpegSize, type JpegSize } from './jpeg-info';
import { MultipartWriter, type Part } from './multipart-writer';
import { DEFAULT_PLACEHOLDER_SIZE, PlaceholderCache } from './placeholder';
import type { SourceHandle, SourceRegistry } from './source-registry';
import type { StreamState } from './types';
import { ViewerHub, type Viewer, type HubCounts } from './viewer-hub';

export interface MjpegEndpointOptions {
  /** Shown on placeholders. */
  name: string;
  /** Consumer id for acquire/release on upstream sources (the node id). */
  consumerId: string;
  /** Node ids wired into this endpoint; those that are glimpser sources are found in the registry. */
  sourceIds: readonly string[];
  registry: SourceRegistry;
  maxViewers: number;
  stallTimeoutMs: number;
  stillTimeoutMs: number;
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

interface LastFrame {
  jpeg: Buffer;
  seq: number;
  time: number;
  /** Monotonic ms at arrival. */
  at: number;
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
 * One MJPEG stream endpoint and its still image: frames in, viewers out, placeholders while the source is
 * down, demand passed upstream (first viewer acquires, last one releases).
 * Events: 'viewers' (count).
 */
export class MjpegEndpoint extends EventEmitter {
  readonly hub: ViewerHub;
  readonly writer: MultipartWriter;
  readonly placeholders = new PlaceholderCache();
  framesIn = 0;
  placeholdersSent = 0;
  private readonly opts: Required<Omit<MjpegEndpointOptions, 'onError' | 'boundary'>> &
    Pick<MjpegEndpointOptions, 'onError'>;
  private last: LastFrame | undefined;
  private lastRealPart: Part | undefined;
  private lastPlaceholder: { part: Part; at: number; src: Buffer } | undefined;
  private lastPushWasPlaceholder = false;
  private size: JpegSize | undefined;
  private keepTimer: NodeJS.Timeout | undefined;
  private keepDelay = 0;
  private rendering = false;
  private active = false;
  private readonly bound = new Map<string, SourceHandle>();
  private stateChangedAt = -Infinity;
  private readonly stillWaiters = new Set<(jpeg: Buffer | undefined) => void>();
  private readonly stillHandles = new Map<string, SourceHandle>();
  private closed = false;

  constructor(opts: MjpegEndpointOptions) {
    super();
    this.opts = {
      repeatMs: 2000,
      placeholderMs: 1000,
      staleMs: 10000,
      ...opts,
    };
    this.writer = new MultipartWriter(opts.boundary);
    this.hub = new ViewerHub({ maxViewers: opts.maxViewers, stallTimeoutMs: opts.stallTimeoutMs });
    this.hub.on('count', (n: number) => {
      if (n > 0 && !this.active) this.activate();
      else if (n === 0 && this.active) this.deactivate();
      this.emit('viewers', n);
    });
  }

  get viewers(): number {
    return this.hub.size;
  }

  /** For leak checks: viewer timers and listeners plus the endpoint's own. */
  counts(): HubCounts & { keepTimer: boolean; stillWaiters: number; boundSources: number } {
    return {
      ...this.hub.counts(),
      keepTimer: this.keepTimer !== undefined,
      stillWaiters: this.stillWaiters.size,
      boundSources: this.bound.size,
    };
  }

  /** A validated JPEG arrived (see jpegView). */
  frame(jpeg: Buffer, seq = this.framesIn + 1, time = Date.now()): void {
    if (this.closed) return;
    this.framesIn++;
    this.last = { jpeg, seq, time, at: now() };
    const size = jpegSize(jpeg);
    if (size) this.size = size;
    if (this.stillWaiters.size > 0) for (const waiter of [...this.stillWaiters]) waiter(jpeg);
    if (this.hub.size === 0) {
      this.lastRealPart = undefined;
      return;
    }
    const part = this.writer.part(jpeg, seq, time);
    this.lastRealPart = part;
    this.push(part);
  }

  serveStream(req: IncomingMessage, res: ServerResponse): void {
    if (this.closed || this.hub.full) {
      this.refuse(res, this.closed ? 'endpoint closed' : 'too many viewers');
      return;
    }
    const head = req.method === 'HEAD';
    // The body needs no chunked framing: it ends with the connection (`Connection: close`), as mjpg-streamer
    // and motion send it. Without chunk headers every part can go to the socket as it is.
    if (!head) res.useChunkedEncodingByDefault = false;
    res.writeHead(200, this.writer.responseHeaders(head));
    if (head) {
      res.end();
      return;
    }
    const socket = res.socket;
    // Frames are written whole; Nagle would hold back each frame's tail.
    socket?.setNoDelay(true);
    // Clients (Home Assistant, ffmpeg) wait for the headers; without this they come with the first part.
    res.flushHeaders();
    // Straight to the socket when the head is already on it (the response owns the socket, not queued behind a
    // pipelined one) and no middleware wrapped res.write (compression, say), which a socket write would bypass.
    const direct =
      socket !== null &&
      !res.chunkedEncoding &&
      res.write === OutgoingMessage.prototype.write &&
      res.writableLength === socket.writableLength;
    const maxFps = fpsFromUrl(req.url);
    const viewer = this.hub.add(res, { ...(maxFps ? { maxFps } : {}), ...(direct ? { socket } : {}) });
    if (viewer) this.firstPart(viewer);
  }

  serveStill(req: IncomingMessage, res: ServerResponse): void {
    const head = req.method === 'HEAD';
    if (this.last && !this.needsPlaceholder()) {
      this.sendJpeg(res, this.last.jpeg, head);
      return;
    }
    if (head || this.closed) {
      this.refuse(res, 'no frame yet');
      return;
    }
    const handles = this.lookupSources();
    if (!handles.some((h) => !DOWN_STATES.has(h.state()))) {
      this.refuse(res, handles.length ? `source ${handles[0]!.state()}` : 'no frame yet');
      return;
    }
    if (this.stillWaiters.size === 0) {
      for (const h of handles) {
        this.stillHandles.set(h.id, h);
        h.acquire(`${this.opts.consumerId}:still`);
      }
    }
    let finished = false;
    const finish = (jpeg: Buffer | undefined): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      res.off('close', onClose);
      this.stillWaiters.delete(finish);
      if (this.stillWaiters.size === 0) this.releaseStill();
      if (res.destroyed || res.writableEnded) return;
      if (jpeg) this.sendJpeg(res, jpeg, false);
      else this.refuse(res, 'no frame within the still timeout');
    };
    const onClose = (): void => finish(undefined);
    const timer = setTimeout(finish, this.opts.stillTimeoutMs, undefined);
    res.on('close', onClose);
    this.stillWaiters.add(finish);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const waiter of [...this.stillWaiters]) waiter(undefined);
    this.hub.closeAll();
    this.deactivate();
    this.clearKeep();
  }

  // --- frames to viewers -------------------------------------------------------------------------

  private push(part: Part): void {
    this.hub.push(part);
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
    const state = this.primary()?.state();
    // A frame newer than the last state change proves the source produces, whatever the state lags behind.
    return state !== undefined && NOT_PRODUCING.has(state) && !(this.active && last.at > this.stateChangedAt);
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
    const primary = this.primary();
    const state = primary?.state();
    const label = !this.last
      ? state && state !== 'healthy' && state !== 'degraded'
        ? state
        : 'waiting for frames'
      : state && NOT_PRODUCING.has(state)
        ? state
        : 'no signal';
    const detail = state && DOWN_STATES.has(state) ? primary?.lastError() : undefined;
    const { width, height } = this.size ?? DEFAULT_PLACEHOLDER_SIZE;
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

  // --- sources -----------------------------------------------------------------------------------

  private lookupSources(): SourceHandle[] {
    const found: SourceHandle[] = [];
    for (const id of this.opts.sourceIds) {
      const h = this.opts.registry.get(id);
      if (h) found.push(h);
    }
    return found;
  }

  private primary(): SourceHandle | undefined {
    for (const id of this.opts.sourceIds) {
      const h = this.opts.registry.get(id);
      if (h) return h;
    }
    return undefined;
  }

  private activate(): void {
    this.active = true;
    for (const h of this.lookupSources()) this.bind(h);
    this.opts.registry.on('added', this.onSourceAdded);
    this.opts.registry.on('removed', this.onSourceRemoved);
  }

  private deactivate(): void {
    this.active = false;
    this.opts.registry.off('added', this.onSourceAdded);
    this.opts.registry.off('removed', this.onSourceRemoved);
    for (const h of [...this.bound.values()]) this.unbind(h);
    this.clearKeep();
    this.lastRealPart = undefined;
  }

  private bind(h: SourceHandle): void {
    const old = this.bound.get(h.id);
    if (old === h) return;
    if (old) this.unbind(old);
    this.bound.set(h.id, h);
    h.on('state', this.onState);
    if (NOT_PRODUCING.has(h.state())) this.stateChangedAt = now();
    h.acquire(this.opts.consumerId);
  }

  private unbind(h: SourceHandle): void {
    if (this.bound.get(h.id) !== h) return;
    this.bound.delete(h.id);
    h.off('state', this.onState);
    h.release(this.opts.consumerId);
  }

  private releaseStill(): void {
    for (const h of this.stillHandles.values()) h.release(`${this.opts.consumerId}:still`);
    this.stillHandles.clear();
  }

  private readonly onSourceAdded = (h: SourceHandle): void => {
    if (this.opts.sourceIds.includes(h.id)) this.bind(h);
  };

  private readonly onSourceRemoved = (h: SourceHandle): void => {
    this.unbind(h);
  };

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

  private refuse(res: ServerResponse, reason: string): void {
    const body = `503 Service Unavailable: ${reason}\n`;
    res.writeHead(503, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(body)),
      'Retry-After': RETRY_AFTER_S,
      'Cache-Control': 'no-store',
    });
    res.end(body);
  }
}

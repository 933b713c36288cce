import { EventEmitter } from 'node:events';
import type { Part } from './multipart-writer';

/** Where parts are written: a response, or its socket once the response head is on the wire. */
export interface PartOut {
  write(chunk: Buffer): boolean;
  /** Bytes accepted by write() but not yet handed to the kernel. */
  readonly writableLength: number;
  on(event: 'drain', listener: () => void): unknown;
  off(event: 'drain', listener: () => void): unknown;
}

/** The part of an http.ServerResponse the hub uses; a real response is passed in production and tests. */
export interface ViewerSink {
  write(chunk: Buffer): boolean;
  readonly writableLength: number;
  end(): unknown;
  destroy(): unknown;
  on(event: 'drain' | 'close' | 'error', listener: (...args: unknown[]) => void): unknown;
  off(event: 'drain' | 'close' | 'error', listener: (...args: unknown[]) => void): unknown;
}

export interface ViewerHubOptions {
  /** Viewers past this are refused (add returns undefined). */
  maxViewers: number;
  /** A viewer whose socket has accepted nothing for this long is disconnected. */
  stallTimeoutMs: number;
  /** Clock in ms; injectable for tests of the fps cap. */
  now?: () => number;
}

export interface ViewerOptions {
  /** Cap on parts per second for this viewer (0 or undefined: every frame). */
  maxFps?: number;
  /**
   * Write parts straight to this (the response's socket) instead of through the response: one plain
   * socket write per part, none of ServerResponse's per-write work (chunk framing, cork, a tick to uncork).
   * Only for a response whose head is already on this socket and whose body is not chunked (it ends with
   * the connection). The response still owns the lifecycle: 'close', end() and destroy() go through it.
   */
  socket?: PartOut;
}

export interface HubCounts {
  viewers: number;
  /** Viewers waiting for 'drain' (socket buffer full). */
  blocked: number;
  capTimers: number;
  stallTimers: number;
}

/** Lowest accepted cap: a capped viewer still gets a part well within 5 s. */
export const MIN_FPS_CAP = 0.25;
export const MAX_FPS_CAP = 60;

/**
 * One viewer: at most one pending part (newer replaces older), written when the socket drains and
 * the fps cap allows. Never buffers more than the part in flight plus the pending one.
 * The per-frame path (offer) is a few field checks and one write: no allocation, no clock read.
 */
export class Viewer {
  /** Parts handed to the socket. */
  sent = 0;
  /** Parts replaced before they could be written. */
  skipped = 0;
  /** Parts go straight to the response's socket (see ViewerOptions.socket). */
  readonly direct: boolean;
  private readonly out: PartOut;
  private pending: Part | undefined;
  private blocked = false;
  private blockedSince = 0;
  private lastWriteAt = -Infinity;
  private readonly minIntervalMs: number;
  private capTimer: NodeJS.Timeout | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly onDrain = (): void => this.drained();
  private readonly onClose = (): void => this.hub.remove(this, 'closed');

  constructor(
    private readonly hub: ViewerHub,
    readonly sink: ViewerSink,
    opts: ViewerOptions,
    private readonly now: () => number,
    private readonly stallTimeoutMs: number,
  ) {
    const fps = opts.maxFps;
    this.minIntervalMs = fps && fps > 0 ? 1000 / Math.min(MAX_FPS_CAP, Math.max(MIN_FPS_CAP, fps)) : 0;
    this.direct = opts.socket !== undefined;
    this.out = opts.socket ?? sink;
    this.out.on('drain', this.onDrain);
    sink.on('close', this.onClose);
    sink.on('error', this.onClose);
  }

  get isBlocked(): boolean {
    return this.blocked;
  }
  get hasCapTimer(): boolean {
    return this.capTimer !== undefined;
  }
  get hasStallTimer(): boolean {
    return this.stallTimer !== undefined;
  }

  /** A new part; `t` is the hub's clock, read once per frame for all viewers. */
  offer(part: Part, t: number): void {
    if (this.closed) return;
    if (this.pending !== undefined) this.skipped++;
    this.pending = part;
    if (!this.blocked && this.capTimer === undefined) this.flush(t);
  }

  private flush(t: number): void {
    const part = this.pending;
    if (part === undefined || this.blocked || this.capTimer !== undefined) return;
    if (this.minIntervalMs > 0) {
      const wait = this.lastWriteAt + this.minIntervalMs - t;
      if (wait > 0) {
        this.capTimer = setTimeout(this.capElapsed, wait);
        return;
      }
    }
    this.pending = undefined;
    this.lastWriteAt = t;
    this.sent++;
    this.hub.partsWritten++;
    // write() answers false for any part over the socket's 16 KiB high-water mark, even when the kernel took
    // it all at once; only bytes still queued in Node mean the viewer must wait for 'drain'.
    if (!this.out.write(part.bytes) && this.out.writableLength > 0) {
      this.blocked = true;
      this.blockedSince = t;
      // One timer per stall period, not per frame.
      if (this.stallTimer === undefined) this.stallTimer = setTimeout(this.stallCheck, this.stallTimeoutMs);
    }
  }

  private readonly capElapsed = (): void => {
    this.capTimer = undefined;
    this.flush(this.now());
  };

  private readonly stallCheck = (): void => {
    this.stallTimer = undefined;
    if (!this.blocked || this.closed) return;
    const waited = this.now() - this.blockedSince;
    if (waited >= this.stallTimeoutMs) {
      this.hub.remove(this, 'stalled');
      return;
    }
    this.stallTimer = setTimeout(this.stallCheck, this.stallTimeoutMs - waited);
  };

  private drained(): void {
    // 'drain' also follows writes that never blocked (see flush): nothing to do then.
    if (!this.blocked) return;
    this.blocked = false;
    if (this.pending !== undefined) this.flush(this.now());
  }

  /** Detach everything this viewer attached; end (or destroy when stuck) the response. */
  dispose(reason: 'closed' | 'stalled' | 'shutdown'): void {
    if (this.closed) return;
    this.closed = true;
    if (this.capTimer) clearTimeout(this.capTimer);
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.capTimer = this.stallTimer = undefined;
    this.pending = undefined;
    this.out.off('drain', this.onDrain);
    this.sink.off('close', this.onClose);
    this.sink.off('error', this.onClose);
    // A blocked socket would never flush an orderly end; a stalled one must go at once.
    if (reason === 'stalled' || (reason === 'shutdown' && this.blocked)) this.sink.destroy();
    else if (reason === 'shutdown') this.sink.end();
  }
}

/**
 * The set of viewers of one stream. push() offers a part to every viewer; each decides alone whether
 * it can write now, so a slow or stalled viewer never delays the others.
 * Events: 'count' (viewers: number), 'removed' (viewer, reason).
 */
export class ViewerHub extends EventEmitter {
  /** Parts handed to sockets, all viewers together. */
  partsWritten = 0;
  /** Viewers disconnected because they stalled. */
  stalledDropped = 0;
  private readonly viewers = new Set<Viewer>();
  private readonly maxViewers: number;
  private readonly stallTimeoutMs: number;
  /** The hub's clock (ms), also for offers made outside push(). */
  readonly now: () => number;

  constructor(opts: ViewerHubOptions) {
    super();
    this.maxViewers = Math.max(1, Math.floor(opts.maxViewers));
    this.stallTimeoutMs = Math.max(1, opts.stallTimeoutMs);
    this.now = opts.now ?? (() => performance.now());
  }

  get size(): number {
    return this.viewers.size;
  }

  get full(): boolean {
    return this.viewers.size >= this.maxViewers;
  }

  add(sink: ViewerSink, opts: ViewerOptions = {}): Viewer | undefined {
    if (this.full) return undefined;
    const viewer = new Viewer(this, sink, opts, this.now, this.stallTimeoutMs);
    this.viewers.add(viewer);
    this.emit('count', this.viewers.size);
    return viewer;
  }

  push(part: Part): void {
    const t = this.now();
    for (const viewer of this.viewers) viewer.offer(part, t);
  }

  remove(viewer: Viewer, reason: 'closed' | 'stalled' | 'shutdown'): void {
    if (!this.viewers.delete(viewer)) return;
    if (reason === 'stalled') this.stalledDropped++;
    viewer.dispose(reason);
    this.emit('removed', viewer, reason);
    this.emit('count', this.viewers.size);
  }

  /** End every response (destroy the stuck ones) and forget them. */
  closeAll(): void {
    for (const viewer of [...this.viewers]) this.remove(viewer, 'shutdown');
  }

  counts(): HubCounts {
    let blocked = 0;
    let capTimers = 0;
    let stallTimers = 0;
    for (const v of this.viewers) {
      if (v.isBlocked) blocked++;
      if (v.hasCapTimer) capTimers++;
      if (v.hasStallTimer) stallTimers++;
    }
    return { viewers: this.viewers.size, blocked, capTimers, stallTimers };
  }
}

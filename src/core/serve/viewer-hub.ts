import { EventEmitter } from 'node:events';
import { Histogram, LATENCY_BUCKETS_MS } from '../util/histogram';
import type { Part } from '../jpeg/multipart-writer';
import { tcpSendQueues } from './tcp-queues';

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
  /** Viewers past this are refused (add returns a refusal), after the stalest stalled one was tried. */
  maxViewers: number;
  /** Viewers from one client address past this are refused likewise. Default: no limit below maxViewers. */
  maxPerAddress?: number;
  /** A viewer that has not taken a whole part for this long is disconnected, whatever its frame rate. */
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
  /** The client's address, for the per-address limit. */
  address?: string;
  /** The connection's ports: with them the hub reads what the client has acknowledged (Linux), not only what Node sent. */
  ports?: { local: number; remote: number };
  /** The thumbnail width this viewer is served (see ViewerHub.push); 0 or undefined: the main JPEG. */
  variant?: number;
  /** Motion-aware: at most this many parts per second while the stream sees no motion (setStill). */
  idleFps?: number;
  /**
   * Parts go to this instead of out.write(part.bytes): a viewer that carries the JPEG in its own framing (the
   * viewer page's multiplexed connection). It takes every part it is handed (never blocks the viewer).
   */
  partSink?: (part: Part) => void;
  /** What the client really took, when the part sink knows better than the viewer (see Viewer.progress). */
  progress?: () => TakeSample;
}

/** What a viewer has taken so far: the adaptive rate (viewer-rate.ts) compares these over time. */
export interface TakeSample {
  /** Parts the client has taken (acknowledged, or handed to its connection). */
  readonly delivered: number;
  /** Parts that went unsent because the client was still busy with an earlier one. */
  readonly dropped: number;
  /** More than two parts wait for the client now. */
  readonly behind: boolean;
}

export interface HubCounts {
  viewers: number;
  /** Viewers waiting for 'drain' (socket buffer full). */
  blocked: number;
  capTimers: number;
  /** 1 while the hub's stall sweep runs (it runs only while there are viewers). */
  stallTimers: number;
}

export type RemoveReason = 'closed' | 'stalled' | 'evicted' | 'shutdown';
export type Refusal = 'full' | 'address';

/** Lowest accepted cap: a capped viewer still gets a part well within 5 s. */
export const MIN_FPS_CAP = 0.25;
export const MAX_FPS_CAP = 60;

function intervalOf(fps: number | undefined): number {
  return fps && fps > 0 ? 1000 / Math.min(MAX_FPS_CAP, Math.max(MIN_FPS_CAP, fps)) : 0;
}
/** A viewer this far behind (no whole part taken) may give its slot to a newcomer when the stream is full. */
const EVICTABLE_MS = 1000;
const SWEEP_MS = 500;
/** How old the kernel's send queues may be for the stall sweep, and for the adaptive rate's progress. */
const SWEEP_TCP_AGE_MS = 1000;
const PROGRESS_TCP_AGE_MS = 5000;
/** A stream or an address this close to its limit has its viewers' progress read from the kernel. */
const NEAR_FULL = 0.75;

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
  /** Of those, parts replaced while the connection was still busy (not held back by the fps cap). */
  skippedBehind = 0;
  /** Parts go straight to the response's socket (see ViewerOptions.socket). */
  readonly direct: boolean;
  readonly address: string;
  /** "localPort/remotePort" of the connection, for the kernel's send queue. */
  readonly tcpKey: string | undefined;
  /** Thumbnail width served (0: the main JPEG). */
  readonly variant: number;
  /** The viewer's own cap (?fps=), and its cap while nothing moves (?idlefps=); undefined: none. */
  readonly userFps: number | undefined;
  readonly idleFps: number | undefined;
  private still = false;
  private readonly out: PartOut;
  private readonly partSink: ((part: Part) => void) | undefined;
  private readonly progressOf: (() => TakeSample) | undefined;
  private pending: Part | undefined;
  /** The pending part is a fresh frame (not a repeat or a first picture): its delivery latency counts. */
  private pendingLive = false;
  private blocked = false;
  private lastWriteAt = -Infinity;
  /** When the viewer last took a whole part (or had nothing to take). */
  private progressAt: number;
  /** Bytes of parts written, and the bytes the client had acknowledged at progressAt. */
  private bytesOut = 0;
  private ackedAtProgress = 0;
  private lastPartBytes = 0;
  /** Unacknowledged bytes in the kernel at the last sweep (0 where unknown). */
  private unacked = 0;
  private minIntervalMs: number;
  private capTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly onDrain = (): void => this.drained();
  private readonly onClose = (): void => this.hub.remove(this, 'closed');

  constructor(
    private readonly hub: ViewerHub,
    readonly sink: ViewerSink,
    opts: ViewerOptions,
    private readonly now: () => number,
  ) {
    this.userFps = opts.maxFps && opts.maxFps > 0 ? opts.maxFps : undefined;
    this.idleFps = opts.idleFps && opts.idleFps > 0 ? opts.idleFps : undefined;
    this.minIntervalMs = intervalOf(this.userFps);
    this.variant = opts.variant ?? 0;
    this.partSink = opts.partSink;
    this.progressOf = opts.progress;
    this.direct = opts.socket !== undefined;
    this.address = opts.address ?? '';
    this.tcpKey = opts.ports ? `${opts.ports.local}/${opts.ports.remote}` : undefined;
    this.out = opts.socket ?? sink;
    this.progressAt = now();
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

  /** The rate this viewer takes at most now (its cap, lowered while still for a motion-aware viewer); Infinity: every frame. */
  get capFps(): number {
    return this.minIntervalMs > 0 ? 1000 / this.minIntervalMs : Infinity;
  }

  /**
   * The stream sees motion (false) or none (true). A motion-aware viewer drops to its idle rate while still and is
   * back to its own rate at once on motion: a part held back by the idle cap goes out now.
   */
  setStill(still: boolean): void {
    if (this.idleFps === undefined || still === this.still || this.closed) return;
    this.still = still;
    const fps = still ? Math.min(this.idleFps, this.userFps ?? Infinity) : this.userFps;
    this.minIntervalMs = intervalOf(fps);
    if (!still && this.capTimer !== undefined) {
      clearTimeout(this.capTimer);
      this.capTimer = undefined;
      this.flush(this.now());
    }
  }

  /** What the client has taken (TakeSample), from its acknowledgements where the kernel tells them. */
  progress(): TakeSample {
    if (this.progressOf) return this.progressOf();
    // The kernel's queue as of a few seconds at most (one read serves every viewer of every stream; the rate it
    // feeds changes only after seconds anyway).
    if (this.tcpKey !== undefined) {
      const queues = tcpSendQueues(PROGRESS_TCP_AGE_MS);
      if (queues) this.unacked = queues.get(this.tcpKey) ?? 0;
    }
    const backlog = this.out.writableLength + this.unacked;
    // Parts vary in size: the average converts bytes to parts with less noise than the last part would.
    const per = this.sent > 0 ? Math.max(1, this.bytesOut / this.sent) : 1;
    return { delivered: Math.max(0, this.sent - backlog / per), dropped: this.skippedBehind, behind: backlog > 2 * per };
  }

  /** How long the viewer has not taken a whole part while something was waiting for it (0 when nothing waits). */
  behindFor(t: number): number {
    return this.out.writableLength + this.unacked > 0 ? t - this.progressAt : 0;
  }

  /**
   * Progress by what the client acknowledged (`unacked`: the kernel's send queue, undefined where unknown): a whole
   * part's worth of bytes taken since the last progress, or nothing left to take, is progress.
   */
  assess(t: number, unacked: number | undefined): void {
    if (unacked === undefined) return;
    this.unacked = unacked;
    const pending = this.out.writableLength + unacked;
    const acked = this.bytesOut - pending;
    if (pending === 0 || acked - this.ackedAtProgress >= this.lastPartBytes) {
      this.progressAt = t;
      this.ackedAtProgress = acked;
    }
  }

  /** A new part; `t` is the hub's clock, read once per frame for all viewers. `live`: a fresh frame, not a repeat. */
  offer(part: Part, t: number, live = false): void {
    if (this.closed) return;
    if (this.pending !== undefined) {
      this.skipped++;
      if (this.capTimer === undefined) this.skippedBehind++;
      this.hub.droppedParts++;
    }
    this.pending = part;
    this.pendingLive = live;
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
    if (this.pendingLive) this.hub.latency.observe(t - part.readyAt);
    if (this.partSink) {
      this.partSink(part);
      this.progressAt = t;
      return;
    }
    this.bytesOut += part.bytes.length;
    this.lastPartBytes = part.bytes.length;
    // write() answers false for any part over the socket's 16 KiB high-water mark, even when the kernel took
    // it all at once; only bytes still queued in Node mean the viewer must wait for 'drain'.
    if (!this.out.write(part.bytes) && this.out.writableLength > 0) this.blocked = true;
    // Without the client's acknowledgements (see assess), a part handed to the kernel is the best sign of progress.
    else if (this.tcpKey === undefined || !this.hub.tcpKnown) this.progressAt = t;
  }

  private readonly capElapsed = (): void => {
    this.capTimer = undefined;
    this.flush(this.now());
  };

  private drained(): void {
    if (this.tcpKey === undefined || !this.hub.tcpKnown) this.progressAt = this.now();
    // 'drain' also follows writes that never blocked (see flush): nothing more to do then.
    if (!this.blocked) return;
    this.blocked = false;
    if (this.pending !== undefined) this.flush(this.now());
  }

  /** Detach everything this viewer attached; end (or destroy when stuck) the response. */
  dispose(reason: RemoveReason): void {
    if (this.closed) return;
    this.closed = true;
    if (this.capTimer) clearTimeout(this.capTimer);
    this.capTimer = undefined;
    this.pending = undefined;
    this.out.off('drain', this.onDrain);
    this.sink.off('close', this.onClose);
    this.sink.off('error', this.onClose);
    // A blocked socket would never flush an orderly end; a stalled or evicted one must go at once.
    if (reason === 'stalled' || reason === 'evicted' || (reason === 'shutdown' && this.out.writableLength > 0)) this.sink.destroy();
    else if (reason === 'shutdown') this.sink.end();
  }
}

/**
 * The set of viewers of one stream. push() offers a part to every viewer; each decides alone whether
 * it can write now, so a slow or stalled viewer never delays the others. One sweep timer (only while there are
 * viewers) drops viewers that have not taken a whole part for the stall timeout; a full stream (or a client address
 * at its limit) gives the slot of its stalest lagging viewer to a newcomer before refusing one, and failing that a
 * full stream gives a newcomer a slot of the address that holds the most.
 * Events: 'count' (viewers: number), 'removed' (viewer, reason).
 */
export class ViewerHub extends EventEmitter {
  /** Parts handed to sockets, all viewers together. */
  partsWritten = 0;
  /** Parts replaced before a slow viewer could take them, all viewers together. */
  droppedParts = 0;
  /** Viewers disconnected because they stalled. */
  stalledDropped = 0;
  /** Viewers disconnected to make room for a newcomer. */
  evicted = 0;
  /** Frame ready to handed to a viewer's socket, in ms. */
  readonly latency = new Histogram(LATENCY_BUCKETS_MS);
  /** The kernel's send queues were readable at the last sweep: progress is measured by acknowledged bytes. */
  tcpKnown = false;
  private readonly viewers = new Set<Viewer>();
  private readonly perAddress = new Map<string, number>();
  private readonly maxViewers: number;
  private readonly maxPerAddress: number;
  private readonly stallTimeoutMs: number;
  private sweepTimer: NodeJS.Timeout | undefined;
  /** The hub's clock (ms), also for offers made outside push(). */
  readonly now: () => number;

  constructor(opts: ViewerHubOptions) {
    super();
    this.maxViewers = Math.max(1, Math.floor(opts.maxViewers));
    this.maxPerAddress = Math.max(1, Math.floor(opts.maxPerAddress ?? this.maxViewers));
    this.stallTimeoutMs = Math.max(1, opts.stallTimeoutMs);
    this.now = opts.now ?? (() => performance.now());
  }

  get size(): number {
    return this.viewers.size;
  }

  get full(): boolean {
    return this.viewers.size >= this.maxViewers;
  }

  /**
   * Whether a viewer from `address` would be admitted now, evicting a lagging viewer to make room if it must.
   * Call right before add(); a refusal says which limit was hit.
   */
  admit(address = ''): Refusal | undefined {
    if (this.full && !this.evictStalest(() => true) && !this.evictForFairShare(address)) return 'full';
    if ((this.perAddress.get(address) ?? 0) >= this.maxPerAddress && !this.evictStalest((v) => v.address === address)) return 'address';
    return undefined;
  }

  add(sink: ViewerSink, opts: ViewerOptions = {}): Viewer | undefined {
    if (this.admit(opts.address) !== undefined) return undefined;
    const viewer = new Viewer(this, sink, opts, this.now);
    this.viewers.add(viewer);
    this.perAddress.set(viewer.address, (this.perAddress.get(viewer.address) ?? 0) + 1);
    this.sweepTimer ??= setInterval(this.sweep, Math.min(SWEEP_MS, this.stallTimeoutMs));
    this.sweepTimer.unref?.();
    this.emit('count', this.viewers.size);
    return viewer;
  }

  /**
   * Offers a part to every viewer; `live` marks a fresh frame (its delivery latency is measured). A viewer of a
   * thumbnail width gets that width's part from `variants` when there is one, else `part`.
   */
  push(part: Part, live = false, variants?: ReadonlyMap<number, Part>): void {
    const t = this.now();
    if (!variants || variants.size === 0) {
      for (const viewer of this.viewers) viewer.offer(part, t, live);
      return;
    }
    for (const viewer of this.viewers) viewer.offer((viewer.variant && variants.get(viewer.variant)) || part, t, live);
  }

  [Symbol.iterator](): IterableIterator<Viewer> {
    return this.viewers.values();
  }

  remove(viewer: Viewer, reason: RemoveReason): void {
    if (!this.viewers.delete(viewer)) return;
    const left = (this.perAddress.get(viewer.address) ?? 1) - 1;
    if (left > 0) this.perAddress.set(viewer.address, left);
    else this.perAddress.delete(viewer.address);
    if (reason === 'stalled') this.stalledDropped++;
    if (reason === 'evicted') this.evicted++;
    viewer.dispose(reason);
    if (this.viewers.size === 0) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
    }
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
    for (const v of this.viewers) {
      if (v.isBlocked) blocked++;
      if (v.hasCapTimer) capTimers++;
    }
    return { viewers: this.viewers.size, blocked, capTimers, stallTimers: this.sweepTimer ? 1 : 0 };
  }

  private readonly sweep = (): void => {
    const t = this.now();
    // The client's acknowledgements are read only where Node's own view is not enough: a capped viewer, whose few
    // frames the kernel absorbs for minutes, or a stream near its limits, where a lagging viewer's slot may be wanted.
    const queues = this.needsAcks() ? tcpSendQueues(SWEEP_TCP_AGE_MS) : undefined;
    this.tcpKnown = queues !== undefined;
    for (const v of [...this.viewers]) {
      // A connection missing from the table has just closed: its 'close' removes it.
      if (queues && v.tcpKey !== undefined) v.assess(t, queues.get(v.tcpKey) ?? 0);
      if (v.behindFor(t) >= this.stallTimeoutMs) this.remove(v, 'stalled');
    }
  };

  private needsAcks(): boolean {
    if (this.viewers.size >= this.maxViewers * NEAR_FULL) return true;
    for (const n of this.perAddress.values()) if (n >= this.maxPerAddress * NEAR_FULL) return true;
    for (const v of this.viewers) if (v.capFps !== Infinity) return true;
    return false;
  }

  /**
   * A full stream with no lagging viewer: a newcomer from an address holding fewer slots than the busiest address by
   * two or more takes a slot from that address (its viewer furthest behind). Clients from a few addresses that fill
   * the stream and read just enough to look alive (a never-reader at a low ?fps is found out only when its receive
   * buffer is full) cannot keep every other address out; the slots even out across addresses and never flip back
   * and forth between two of them.
   */
  private evictForFairShare(address: string): boolean {
    const mine = this.perAddress.get(address) ?? 0;
    let busiest: string | undefined;
    let most = mine + 1;
    for (const [a, n] of this.perAddress) {
      if (n > most) {
        most = n;
        busiest = a;
      }
    }
    if (busiest === undefined) return false;
    const t = this.now();
    let worst: Viewer | undefined;
    for (const v of this.viewers) if (v.address === busiest && (!worst || v.behindFor(t) > worst.behindFor(t))) worst = v;
    if (!worst) return false;
    this.remove(worst, 'evicted');
    return true;
  }

  private evictStalest(match: (v: Viewer) => boolean): boolean {
    const t = this.now();
    let worst: Viewer | undefined;
    let behind = EVICTABLE_MS;
    for (const v of this.viewers) {
      if (!match(v)) continue;
      const b = v.behindFor(t);
      if (b >= behind) {
        behind = b;
        worst = v;
      }
    }
    if (!worst) return false;
    this.remove(worst, 'evicted');
    return true;
  }
}

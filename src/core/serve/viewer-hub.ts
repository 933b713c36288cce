import { EventEmitter } from 'node:events';
import { Histogram, LATENCY_BUCKETS_MS } from '../util/histogram';
import type { Part } from '../jpeg/multipart-writer';
import { systemClock, type Clock, type ClockTimer } from '../util/clock';
import { tcpSendQueues } from './tcp-queues';
import { Viewer, type RemoveReason, type ViewerHost, type ViewerOptions, type ViewerSink } from './viewer';

export { MAX_FPS_CAP, MIN_FPS_CAP, Viewer, type PartOut, type RemoveReason, type TakeSample, type ViewerOptions, type ViewerSink } from './viewer';

export interface ViewerHubOptions {
  /** Viewers past this are refused (add returns a refusal), after the stalest stalled one was tried. */
  maxViewers: number;
  /** Viewers from one client address past this are refused likewise. Default: no limit below maxViewers. */
  maxPerAddress?: number;
  /** A viewer that has not taken a whole part for this long is disconnected, whatever its frame rate. */
  stallTimeoutMs: number;
  /** Time and timers (the stall sweep, the viewers' fps caps); tests hand in one they advance by hand. */
  clock?: Clock;
}

export interface HubCounts {
  viewers: number;
  /** Viewers waiting for 'drain' (socket buffer full). */
  blocked: number;
  capTimers: number;
  /** 1 while the hub's stall sweep runs (it runs only while there are viewers). */
  stallTimers: number;
}

export type Refusal = 'full' | 'address';

/** A viewer this far behind (no whole part taken) may give its slot to a newcomer when the stream is full. */
const EVICTABLE_MS = 1000;
const SWEEP_MS = 500;
/** How old the kernel's send queues may be for the stall sweep. */
const SWEEP_TCP_AGE_MS = 1000;
/** A stream or an address this close to its limit has its viewers' progress read from the kernel. */
const NEAR_FULL = 0.75;

/**
 * The set of viewers of one stream. push() offers a part to every viewer; each decides alone whether
 * it can write now, so a slow or stalled viewer never delays the others. One sweep timer (only while there are
 * viewers) drops viewers that have not taken a whole part for the stall timeout; a full stream (or a client address
 * at its limit) gives the slot of its stalest lagging viewer to a newcomer before refusing one, and failing that a
 * full stream gives a newcomer a slot of the address that holds the most.
 * Events: 'count' (viewers: number), 'removed' (viewer, reason).
 */
export class ViewerHub extends EventEmitter implements ViewerHost {
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
  private sweepTimer: ClockTimer | undefined;
  private readonly clock: Clock;
  /** The hub's clock (ms), also for offers made outside push(). */
  readonly now: () => number;

  constructor(opts: ViewerHubOptions) {
    super();
    this.maxViewers = Math.max(1, Math.floor(opts.maxViewers));
    this.maxPerAddress = Math.max(1, Math.floor(opts.maxPerAddress ?? this.maxViewers));
    this.stallTimeoutMs = Math.max(1, opts.stallTimeoutMs);
    this.clock = opts.clock ?? systemClock;
    this.now = this.clock.now;
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
    const viewer = new Viewer(this, sink, opts, this.clock);
    this.viewers.add(viewer);
    this.perAddress.set(viewer.address, (this.perAddress.get(viewer.address) ?? 0) + 1);
    this.sweepTimer ??= this.clock.setInterval(this.sweep, Math.min(SWEEP_MS, this.stallTimeoutMs));
    this.sweepTimer.unref?.();
    this.emit('count', this.viewers.size);
    return viewer;
  }

  /**
   * Offers a part to every viewer; `live` marks a fresh frame (its delivery latency is measured). A viewer of a
   * thumbnail width gets that width's part from `variants` when there is one, else `part`, unless its width is in
   * `withheld` (its thumbnails are on their way: it keeps its picture at its size rather than get a full frame).
   */
  push(part: Part, live = false, variants?: ReadonlyMap<number, Part>, withheld?: ReadonlySet<number>): void {
    const t = this.now();
    if ((!variants || variants.size === 0) && (!withheld || withheld.size === 0)) {
      for (const viewer of this.viewers) viewer.offer(part, t, live);
      return;
    }
    for (const viewer of this.viewers) {
      const v = viewer.variant;
      const own = v ? variants?.get(v) : undefined;
      if (own) viewer.offer(own, t, live);
      else if (!v || !withheld?.has(v)) viewer.offer(part, t, live);
    }
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
      this.clock.clearInterval(this.sweepTimer);
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

import type { Histogram } from '../util/histogram';
import type { Part } from '../jpeg/multipart-writer';
import type { Clock, ClockTimer } from '../util/clock';
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

export type RemoveReason = 'closed' | 'stalled' | 'evicted' | 'shutdown';

/** What a viewer reports to the set it belongs to (the ViewerHub): its counters and its leaving. */
export interface ViewerHost {
  /** Parts handed to sockets, all viewers together. */
  partsWritten: number;
  /** Parts replaced before a slow viewer could take them, all viewers together. */
  droppedParts: number;
  /** Frame ready to handed to a viewer's socket, in ms. */
  readonly latency: Histogram;
  /** The kernel's send queues were readable at the last sweep: progress is measured by acknowledged bytes. */
  readonly tcpKnown: boolean;
  remove(viewer: Viewer, reason: RemoveReason): void;
}

/** Lowest accepted cap: a capped viewer still gets a part well within 5 s. */
export const MIN_FPS_CAP = 0.25;
export const MAX_FPS_CAP = 60;

function intervalOf(fps: number | undefined): number {
  return fps && fps > 0 ? 1000 / Math.min(MAX_FPS_CAP, Math.max(MIN_FPS_CAP, fps)) : 0;
}
/** How old the kernel's send queues may be for the adaptive rate's progress. */
const PROGRESS_TCP_AGE_MS = 5000;

/**
 * One viewer: at most one pending part (newer replaces older), written when the socket drains and
 * the fps cap allows. Never buffers more than the part in flight plus the pending one.
 * The per-frame path (offer) is a few field checks and one write: no allocation, no clock read.
 */
export class Viewer {
  /** Parts handed to the socket. */
  sent = 0;
  /** Parts offered (sent, skipped or pending). */
  offered = 0;
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
  private capTimer: ClockTimer | undefined;
  private closed = false;
  private readonly onDrain = (): void => this.drained();
  private readonly onClose = (): void => this.hub.remove(this, 'closed');

  private readonly now: () => number;

  constructor(
    private readonly hub: ViewerHost,
    readonly sink: ViewerSink,
    opts: ViewerOptions,
    private readonly clock: Clock,
  ) {
    this.now = clock.now;
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
    this.progressAt = this.now();
    this.out.on('drain', this.onDrain);
    sink.on('close', this.onClose);
    sink.on('error', this.onClose);
  }

  /** Removed from its hub (left, stalled, evicted or shut down). */
  get gone(): boolean {
    return this.closed;
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
      this.clock.clearTimeout(this.capTimer);
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
    this.offered++;
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
        this.capTimer = this.clock.setTimeout(this.capElapsed, wait);
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
    if (this.capTimer) this.clock.clearTimeout(this.capTimer);
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

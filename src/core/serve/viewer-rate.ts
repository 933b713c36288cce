import type { TakeSample } from './viewer-hub';

export interface TakeRateOptions {
  /** Span over which what a viewer took is measured before a decision. */
  windowMs?: number;
  /** How long a viewer must keep up before it is offered more; doubled after each probe that failed. */
  probeMs?: number;
  /** Longest wait between probes. */
  maxProbeMs?: number;
  /** Lowest rate a slow viewer is asked for. */
  minFps?: number;
  /** Share of the measured take rate asked for (the endpoint rounds down to the stream's steps anyway). */
  headroom?: number;
}

interface Sample extends TakeSample {
  t: number;
}

/**
 * How many frames per second one viewer really takes, for the endpoint's demand: when every viewer of a stream is
 * slow, the stream encodes only what the fastest of them takes, instead of frames that nobody gets.
 *
 * A viewer is slow when, over the window, it dropped at least a fifth of its frames because its connection was
 * still busy, or had more than two frames waiting at every sample; it is then asked for what it took (more than
 * before, when it took clearly more than it was asked for: it was draining a backlog), and the endpoint rounds that
 * down to a rate the stream can make. Only a change of a tenth or more counts: every change may switch the stream.
 * A viewer that keeps up is offered half as much again after `probeMs`, and every frame once that reaches the
 * stream's rate; a probe that makes it slow again doubles the wait before the next one (so a viewer whose capacity
 * lies between two of the stream's rates does not make the stream switch back and forth). No clock is read here:
 * times come with the samples.
 */
export class TakeRate {
  /** Frames per second this viewer needs; Infinity: every frame. */
  need = Infinity;
  private readonly samples: Sample[] = [];
  private readonly windowMs: number;
  private readonly baseProbeMs: number;
  private readonly maxProbeMs: number;
  private readonly minFps: number;
  private readonly headroom: number;
  private probeMs: number;
  private changedAt = -Infinity;
  private lastRaiseAt = -Infinity;

  constructor(opts: TakeRateOptions = {}) {
    this.windowMs = opts.windowMs ?? 4000;
    this.baseProbeMs = opts.probeMs ?? 4000;
    this.maxProbeMs = opts.maxProbeMs ?? 60_000;
    this.minFps = opts.minFps ?? 0.5;
    this.headroom = opts.headroom ?? 1;
    this.probeMs = this.baseProbeMs;
  }

  /**
   * A sample at time `t` (ms); `fullFps` is the stream's rate (a need at or above it is every frame). Returns the need.
   */
  sample(t: number, s: TakeSample, fullFps: number): number {
    this.samples.push({ t, delivered: s.delivered, dropped: s.dropped, behind: s.behind });
    while (this.samples.length > 2 && this.samples[1]!.t <= t - this.windowMs) this.samples.shift();
    const first = this.samples[0]!;
    const span = t - first.t;
    // Judge only a whole window that began after the last change: what came before was at another rate.
    if (span < this.windowMs || first.t < this.changedAt) return this.need;
    const delivered = s.delivered - first.delivered;
    const dropped = s.dropped - first.dropped;
    const alwaysBehind = this.samples.every((x) => x.behind);
    const slow = (dropped > 0 && dropped * 5 >= delivered + dropped) || alwaysBehind;
    if (slow) {
      const took = (delivered * 1000) / span;
      const need = Math.max(this.minFps, took * this.headroom);
      // Only a clear change: the measured rate wobbles by a frame or so, and every change may switch the stream.
      if (need < this.need * 0.9) {
        // Slow again soon after being offered more: that probe failed, wait longer before the next.
        if (t - this.lastRaiseAt < this.probeMs + 2 * this.windowMs) this.probeMs = Math.min(this.maxProbeMs, this.probeMs * 2);
        this.set(t, need);
      } else if (need > this.need * 1.25) {
        // Behind, but taking clearly more than it is asked for: it is draining a backlog (its connection buffered
        // frames from a faster time), so it can take that much.
        this.set(t, need >= fullFps ? Infinity : need);
      }
      return this.need;
    }
    if (this.need === Infinity || this.samples.some((x) => x.behind)) return this.need;
    if (t - this.changedAt >= this.probeMs) {
      // A probe that held for a whole probe period since the last raise: the next may come sooner.
      if (this.lastRaiseAt === this.changedAt) this.probeMs = Math.max(this.baseProbeMs, this.probeMs / 2);
      const next = this.need * 1.5;
      this.set(t, next >= fullFps ? Infinity : next);
      this.lastRaiseAt = t;
    }
    return this.need;
  }

  private set(t: number, need: number): void {
    this.need = need;
    this.changedAt = t;
  }
}

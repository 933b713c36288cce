/**
 * Turns per-frame motion flags into start/end events: start after startFrames consecutive motion
 * frames, end after quietMs without motion, no new start within cooldownMs of an end, and a
 * stuck-ON safety that ends an event when frames stop arriving (staleMs without a frame).
 * Time comes from the caller (frame time, or Date.now() in tick()), so it is testable without timers.
 */

export interface MotionEventOptions {
  /** Consecutive motion frames before an event starts. */
  startFrames: number;
  /** Milliseconds without motion before an event ends. */
  quietMs: number;
  /** Milliseconds after an end during which no new event starts. */
  cooldownMs: number;
  /** Milliseconds without any frame after which an ongoing event is ended. */
  staleMs: number;
}

export const DEFAULT_EVENT_OPTIONS: Readonly<MotionEventOptions> = Object.freeze({
  startFrames: 3,
  quietMs: 5000,
  cooldownMs: 1000,
  staleMs: 10000,
});

export type MotionEventKind = 'start' | 'end';
export type EndReason = 'quiet' | 'no-frames' | 'reset';

export interface MotionEvent {
  kind: MotionEventKind;
  /** Time of the frame that triggered the event (or of the tick for a no-frames end). */
  time: number;
  /** For 'end': why it ended. */
  reason?: EndReason;
  /** Time the event started (for 'end'). */
  startedAt?: number;
}

export class MotionEvents {
  readonly opts: MotionEventOptions;
  private active = false;
  private run = 0;
  private lastMotionAt = 0;
  private lastFrameAt = 0;
  private lastEndAt = -Infinity;
  private startedAt = 0;
  private peak = 0;

  constructor(options: Partial<MotionEventOptions> = {}) {
    const o = { ...DEFAULT_EVENT_OPTIONS };
    for (const [k, v] of Object.entries(options)) if (typeof v === 'number' && Number.isFinite(v)) (o as Record<string, number>)[k] = v;
    o.startFrames = Math.max(1, Math.round(o.startFrames));
    o.quietMs = Math.max(0, o.quietMs);
    o.cooldownMs = Math.max(0, o.cooldownMs);
    o.staleMs = Math.max(1, o.staleMs);
    this.opts = o;
  }

  get isActive(): boolean {
    return this.active;
  }

  /** Highest score seen during the current (or last) event. */
  get peakScore(): number {
    return this.peak;
  }

  /** One analysed frame. Returns the event it causes, if any. */
  frame(motion: boolean, time: number, score = 0): MotionEvent | null {
    this.lastFrameAt = time;
    if (motion) {
      this.run++;
      this.lastMotionAt = time;
      if (this.active) {
        if (score > this.peak) this.peak = score;
        return null;
      }
      if (this.run >= this.opts.startFrames && time - this.lastEndAt >= this.opts.cooldownMs) {
        this.active = true;
        this.startedAt = time;
        this.peak = score;
        return { kind: 'start', time };
      }
      return null;
    }
    this.run = 0;
    if (this.active && time - this.lastMotionAt >= this.opts.quietMs) return this.end(time, 'quiet');
    return null;
  }

  /**
   * A frame that could not be analysed (skipped, bad input): it keeps the stuck-ON safety quiet
   * without counting as motion or as quiet.
   */
  alive(time: number): void {
    this.lastFrameAt = time;
  }

  /** Call periodically with the current time: ends an event when frames stopped arriving. */
  tick(now: number): MotionEvent | null {
    if (this.active && now - this.lastFrameAt >= this.opts.staleMs) return this.end(now, 'no-frames');
    return null;
  }

  /** Ends an ongoing event at once (e.g. on close or a source restart). */
  reset(now: number): MotionEvent | null {
    this.run = 0;
    return this.active ? this.end(now, 'reset') : null;
  }

  private end(time: number, reason: EndReason): MotionEvent {
    this.active = false;
    this.run = 0;
    this.lastEndAt = time;
    return { kind: 'end', time, reason, startedAt: this.startedAt };
  }
}

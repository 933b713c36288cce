import type { StreamState } from '../types';

/** How often the frame rate is taken, in ms: tick() is called on this period (by the owner's clock). */
export const RATE_TICK_MS = 1000;
/** Ticks the rate is averaged over. */
const WINDOW_TICKS = 5;
const DEGRADED_RATIO = 0.7;

/**
 * The frame rate of a source over the last few seconds and, every health interval, whether it keeps up with its
 * target: below 70% of the expected rate is degraded. Shared by FFmpeg's supervisor and the pass-through camera.
 * count() runs once per frame (one addition); tick() once a second.
 */
export class RateHealth {
  fps = 0;
  private readonly perSecond: number[] = [];
  private thisSecond = 0;
  private sinceHealth = 0;

  constructor(
    private readonly expectedFps: number,
    private readonly healthIntervalMs: number,
    private readonly windowTicks = WINDOW_TICKS,
  ) {}

  count(): void {
    this.thisSecond++;
  }

  /** Forgets the window (a new process or connection starts counting afresh). */
  reset(): void {
    this.perSecond.length = 0;
    this.thisSecond = 0;
    this.sinceHealth = 0;
    this.fps = 0;
  }

  /**
   * One second passed: updates fps and, when a health check is due and the window is full, returns the state the
   * source should be in (`degraded` with its reason, or `healthy`); undefined otherwise.
   */
  tick(): { state: Extract<StreamState, 'healthy' | 'degraded'>; reason?: string } | undefined {
    this.perSecond.push(this.thisSecond);
    this.thisSecond = 0;
    if (this.perSecond.length > this.windowTicks) this.perSecond.shift();
    this.fps = this.perSecond.reduce((a, b) => a + b, 0) / this.perSecond.length;
    this.sinceHealth += RATE_TICK_MS;
    if (this.sinceHealth < this.healthIntervalMs || this.perSecond.length < this.windowTicks) return undefined;
    this.sinceHealth = 0;
    if (this.expectedFps > 0 && this.fps < this.expectedFps * DEGRADED_RATIO) {
      return { state: 'degraded', reason: `${this.fps.toFixed(1)} fps, expected ${this.expectedFps}` };
    }
    return { state: 'healthy' };
  }
}

/**
 * The state change a health verdict calls for, if any: only a source that delivers (healthy or degraded) is judged,
 * and a healthy one that stays healthy changes nothing.
 */
export function healthChange(
  current: StreamState,
  verdict: ReturnType<RateHealth['tick']>,
): { state: StreamState; reason?: string } | undefined {
  if (!verdict || (current !== 'healthy' && current !== 'degraded')) return undefined;
  if (verdict.state === 'degraded') return verdict;
  return current === 'degraded' ? { state: 'healthy' } : undefined;
}

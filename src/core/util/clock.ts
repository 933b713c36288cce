/** A timer as the serving code uses it: it can be re-armed for its original delay, and kept from holding the process open. */
export interface ClockTimer {
  refresh(): unknown;
  unref?(): unknown;
}

/**
^ * Time and timers for the logic that timers decide (serving: repeats, placeholders, stale frames, still timeouts, the stall
 * sweep, the fps cap, the demand sampling). The system clock in production; tests hand in a clock they advance by
 * hand, so that logic is checked without waiting for it.
 */
export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  setTimeout(fn: () => void, ms: number): ClockTimer;
  clearTimeout(timer: ClockTimer | undefined): void;
  setInterval(fn: () => void, ms: number): ClockTimer;
  clearInterval(timer: ClockTimer | undefined): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout | undefined),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (timer) => clearInterval(timer as NodeJS.Timeout | undefined),
};

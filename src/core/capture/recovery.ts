import { DEFAULT_BACKOFF, backoffDelay, type BackoffOptions } from '../util/backoff';

export interface RecoveryOptions {
  backoff: BackoffOptions;
  /** Consecutive transient failures after which the source is `failed` (retries go on at the backoff cap). */
  maxRetries: number;
  /** Delay between retries after a permanent error, so a camera that was booting still comes back by itself. */
  failedRetryMs: number;
  /**
   * A run that delivered frames is restarted at once, but at most once in this long: a source that keeps dying right
   * after its first frames backs off like one that never delivers. Infinity: backoff for every failure (the
   * baseline of bench/recovery.js).
   */
  healthyRunMs: number;
}

export const DEFAULT_RECOVERY: RecoveryOptions = {
  backoff: DEFAULT_BACKOFF,
  maxRetries: 10,
  failedRetryMs: 60_000,
  healthyRunMs: 5000,
};

export interface Failure {
  /** What a retry cannot fix soon (bad URL, credentials, arguments): retried only every failedRetryMs. */
  permanent: boolean;
  /** The run that ended delivered frames. */
  delivered: boolean;
  /** Why, free of secrets. */
  reason: string;
}

export interface Retry {
  delayMs: number;
  state: 'recovering' | 'failed';
  /** The reason with the retry count and delay, as the status and health show it. */
  reason: string;
}

/**
 * When a source that stopped is tried again: the one retry policy of FFmpeg processes (Supervisor) and pass-through
 * cameras (MjpegHttpSource), so both recover alike.
 *
 * A run that delivered frames and then ended (killed, camera rebooted, network blip, just after a viewer's arrival
 * switched the camera to a new process) is restarted at once: viewers see a moment of placeholder, not a second of
 * it. Backoff (exponential, with jitter) is for sources that fail before delivering, or keep dying right after
 * their first frames. Permanent errors wait failedRetryMs.
 */
export class Recovery {
  private failures = 0;
  private backoffs = 0;
  private lastImmediateAt = -Infinity;

  constructor(
    private readonly o: RecoveryOptions,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  /** Consecutive failures since frames last flowed (the retry count users see). */
  get retries(): number {
    return this.failures;
  }

  /** The source was (re)started by its owner: nothing of earlier runs counts. */
  reset(): void {
    this.failures = 0;
    this.backoffs = 0;
    this.lastImmediateAt = -Infinity;
  }

  /** Frames flow again: the retry count starts over (the backoff does only after a run that earned a restart at once). */
  delivered(): void {
    this.failures = 0;
  }

  next(f: Failure): Retry {
    if (f.permanent) return { delayMs: this.o.failedRetryMs, state: 'failed', reason: f.reason };
    this.failures++;
    const t = this.now();
    let delayMs: number;
    if (f.delivered && Number.isFinite(this.o.healthyRunMs) && t - this.lastImmediateAt >= this.o.healthyRunMs) {
      delayMs = 0;
      this.lastImmediateAt = t;
      this.backoffs = 0;
    } else {
      delayMs = backoffDelay(++this.backoffs, this.o.backoff, this.random);
    }
    if (this.failures > this.o.maxRetries) return { delayMs, state: 'failed', reason: `${f.reason} (after ${this.o.maxRetries} retries)` };
    return { delayMs, state: 'recovering', reason: `${f.reason}; retry ${this.failures} in ${(delayMs / 1000).toFixed(1)} s` };
  }
}

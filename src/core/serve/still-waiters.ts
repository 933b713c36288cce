import type { Clock } from '../util/clock';

/**
 * Still requests waiting for the next frame (an on-demand stream that must start first), each with a timeout. The
 * first to wait and the last to go are reported, so the endpoint holds the stream's run demand exactly meanwhile.
 */
export class StillWaiters {
  private readonly waiters = new Set<(jpeg: Buffer | undefined, why?: string) => void>();

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    /** True: the first request waits now; false: the last one has gone. */
    private readonly onWaiting: (waiting: boolean) => void,
  ) {}

  get size(): number {
    return this.waiters.size;
  }

  /**
   * Waits for a frame: `answer` gets the JPEG, or undefined at the timeout, when `gone` fires first (the client
   * left) or when the wait is cancelled (with why).
   */
  wait(answer: (jpeg: Buffer | undefined, why?: string) => void, gone: { on(e: 'close', f: () => void): unknown; off(e: 'close', f: () => void): unknown }): void {
    if (this.waiters.size === 0) this.onWaiting(true);
    let finished = false;
    const finish = (jpeg: Buffer | undefined, why?: string): void => {
      if (finished) return;
      finished = true;
      this.clock.clearTimeout(timer);
      gone.off('close', onClose);
      this.waiters.delete(finish);
      if (this.waiters.size === 0) this.onWaiting(false);
      answer(jpeg, why);
    };
    const onClose = (): void => finish(undefined);
    const timer = this.clock.setTimeout(() => finish(undefined), this.timeoutMs);
    gone.on('close', onClose);
    this.waiters.add(finish);
  }

  /** A frame arrived: every waiting request gets it. */
  deliver(jpeg: Buffer): void {
    if (this.waiters.size > 0) for (const finish of [...this.waiters]) finish(jpeg);
  }

  /** Every waiting request ends without a frame, for this reason. */
  cancelAll(why?: string): void {
    for (const finish of [...this.waiters]) finish(undefined, why);
  }
}

/**
 * One report per period for a fault that repeats with every frame (bad input at 10 fps would otherwise write 10 log
 * lines a second): the first goes through at once, the rest of the period are counted, and the next report says how
 * many were held back. The clock is injectable so a test can step through periods without waiting for them.
 */
export class ReportLimiter {
  private lastAt = -Infinity;
  private held = 0;

  constructor(
    readonly periodMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** undefined: hold this one back; a number: report it, noting this many held back since the last report. */
  offer(): number | undefined {
    const t = this.now();
    if (t - this.lastAt < this.periodMs) {
      this.held++;
      return undefined;
    }
    this.lastAt = t;
    const held = this.held;
    this.held = 0;
    return held;
  }
}

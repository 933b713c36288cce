/**
 * A fixed-bucket histogram of plain counters: observe() is a short loop and two additions, cheap enough for the
 * per-write path of a viewer. Metrics exporters read it at scrape time; nothing here knows Prometheus.
 */
export class Histogram {
  /** Counts per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  /** Adds another histogram with the same bounds into this one (for totals across users of a stream). */
  add(other: Histogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i]!;
    this.sum += other.sum;
    this.count += other.count;
  }

  /** The value below which a fraction q of observations fall, at bucket resolution (the bucket's upper bound). */
  quantile(q: number): number | undefined {
    if (this.count === 0) return undefined;
    const target = q * this.count;
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= target) return i < this.bounds.length ? this.bounds[i] : Infinity;
    }
    return Infinity;
  }
}

/** Milliseconds: frame delivery latency (ready to handed to a viewer's socket). */
export const LATENCY_BUCKETS_MS: readonly number[] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
/** Milliseconds: motion detection time for one frame. */
export const DETECT_BUCKETS_MS: readonly number[] = [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50];

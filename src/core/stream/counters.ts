import { DETECT_BUCKETS_MS, Histogram, LATENCY_BUCKETS_MS } from '../util/histogram';
import type { UserCounters, ViewerRefusal } from './model';

export interface StreamCounters {
  viewers: number;
  droppedFrames: number;
  viewersRefused: Record<ViewerRefusal, number>;
  latency: Histogram;
  detectMs: Histogram;
}

/** The counters a stream's users keep where things happen (viewers, drops, latency, detection time), added up. */
export function sumCounters(readers: Iterable<(() => UserCounters) | undefined>): StreamCounters {
  const out: StreamCounters = { viewers: 0, droppedFrames: 0, viewersRefused: { full: 0, address: 0 }, latency: new Histogram(LATENCY_BUCKETS_MS), detectMs: new Histogram(DETECT_BUCKETS_MS) };
  for (const read of readers) {
    const c = read?.();
    if (!c) continue;
    out.viewers += c.viewers ?? 0;
    out.droppedFrames += c.droppedFrames ?? 0;
    if (c.viewersRefused) {
      out.viewersRefused.full += c.viewersRefused.full;
      out.viewersRefused.address += c.viewersRefused.address;
    }
    if (c.latency) out.latency.add(c.latency);
    if (c.detectMs) out.detectMs.add(c.detectMs);
  }
  return out;
}

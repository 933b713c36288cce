import { readProcessUsage, type ProcessUsage } from '../ffmpeg/process-usage';

export interface RecycleOptions {
  /** Replace a process that has delivered for this long (0 or absent: never by age). */
  afterMs?: number;
  /** Replace a process whose resident memory is above this (0 or absent: never by memory). */
  maxRssBytes?: number;
  /** How often processes are looked at. */
  checkMs?: number;
}

/** What the policy needs to know of one process. */
export interface RecycleCandidate {
  /** Epoch ms since which the current process has delivered frames; undefined while it has not. */
  upSince: number | undefined;
  pid: number | undefined;
  /** Epoch ms of its last recycle given up (the successor failed before its first frame). */
  failedAt?: number | undefined;
}

const DEFAULT_CHECK_MS = 60_000;
/**
 * A recycle given up is tried again only after this long: a camera that serves one client refuses every successor,
 * and trying each minute would only fill the log.
 */
export const RECYCLE_RETRY_MS = 3_600_000;

/** How often to look: as set, else a minute, or a quarter of a shorter age limit (so it is kept within a quarter). */
export function recycleCheckMs(o: RecycleOptions): number {
  if (o.checkMs && o.checkMs > 0) return o.checkMs;
  return o.afterMs && o.afterMs > 0 ? Math.min(DEFAULT_CHECK_MS, Math.max(250, o.afterMs / 4)) : DEFAULT_CHECK_MS;
}

/**
 * Why a process should be replaced now (long-running FFmpeg processes can grow: decoder state, leaks in drivers), or
 * undefined. Only a process that delivers is recycled; the replacement runs beside it until its first frame.
 */
export function recycleReason(
  o: RecycleOptions,
  c: RecycleCandidate,
  now: number,
  usage: (pid: number) => ProcessUsage | undefined = readProcessUsage,
): string | undefined {
  if (c.upSince === undefined) return undefined;
  if (c.failedAt !== undefined && now - c.failedAt < RECYCLE_RETRY_MS) return undefined;
  if (o.afterMs && o.afterMs > 0 && now - c.upSince >= o.afterMs) return `ran ${hours(now - c.upSince)}`;
  if (o.maxRssBytes && o.maxRssBytes > 0 && c.pid !== undefined) {
    const rss = usage(c.pid)?.rssBytes;
    if (rss !== undefined && rss > o.maxRssBytes) return `resident memory ${mb(rss)} over ${mb(o.maxRssBytes)}`;
  }
  return undefined;
}

function hours(ms: number): string {
  return ms >= 3_600_000 ? `${(ms / 3_600_000).toFixed(1)} h` : `${Math.round(ms / 1000)} s`;
}

function mb(bytes: number): string {
  return `${(bytes / 1048576).toFixed(0)} MB`;
}

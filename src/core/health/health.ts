import { Histogram } from '../util/histogram';
import type { ProcessPool } from '../stream/pool';
import { readProcessesUsage, type ProcessUsage } from '../ffmpeg/process-usage';
import type { Stream, StreamSnapshot } from '../stream/stream';
import type { StreamState } from '../types';

/** One stream as health and metrics read it at one moment: its snapshot and its FFmpeg's cost. */
export interface StreamSample {
  /** The pool's label: a process-pool node's name (or id), or "default". */
  pool: string;
  snapshot: StreamSnapshot;
  /** Undefined while no FFmpeg runs, or where the system has no /proc. */
  usage: ProcessUsage | undefined;
  /** Epoch ms at which the sample was taken. */
  at: number;
}

export interface LabelledPool {
  label: string;
  pool: ProcessPool;
}

export type UsageReader = (pids: readonly number[]) => ProcessUsage | undefined;

/** Reads no process figures (a health check needs only states). */
export const NO_USAGE: UsageReader = () => undefined;

/** Every stream of these pools, snapshotted now; process figures read from the kernel. */
export function sampleStreams(pools: readonly LabelledPool[], readUsage: UsageReader = readProcessesUsage): StreamSample[] {
  return sampleEach(
    pools.flatMap(({ label, pool }) => pool.streams().map((stream) => ({ pool: label, stream }))),
    readUsage,
  );
}

/** These streams, snapshotted at one moment; process figures read from the kernel. */
export function sampleEach(streams: readonly { pool: string; stream: Stream }[], readUsage: UsageReader = readProcessesUsage): StreamSample[] {
  const at = Date.now();
  return streams.map(({ pool, stream }) => {
    const snapshot = stream.snapshot();
    return { pool, snapshot, usage: snapshot.pids.length > 0 ? readUsage(snapshot.pids) : undefined, at };
  });
}

/** States in which a container health check passes: producing as asked, or not asked to run. */
export const PASSING_STATES: ReadonlySet<StreamState> = new Set(['healthy', 'idle']);

export interface HealthEntry {
  pool: string;
  stream: string;
  state: StreamState;
  reason: string | null;
  fps: number;
  viewers: number;
  /** Seconds since the last frame; null before the first. */
  lastFrameAgeSeconds: number | null;
}

export interface HealthReport {
  /** 200 when every stream is healthy or idle (or there is none), else 503. */
  status: 200 | 503;
  body: { status: 'ok' | 'unhealthy'; time: string; streams: HealthEntry[] };
}

const round = (n: number, digits: number): number => Number(n.toFixed(digits));

/**
 * The frame rate the stream's process should deliver now: the source's rate while anyone needs every frame (viewers,
 * motion's gray frames, a flow), its low rate while only stills might be asked for, 0 while no process runs.
 */
export function targetFps(s: StreamSnapshot): number {
  const every = s.outputs.jpegEvery;
  if (every <= 0) return 0;
  return round(s.outputs.gray.length > 0 ? s.expectedFps : s.expectedFps / every, 3);
}

export function healthReport(samples: readonly StreamSample[], now = Date.now()): HealthReport {
  const streams = samples.map(({ pool, snapshot: s }): HealthEntry => ({
    pool,
    stream: s.name,
    state: s.state,
    reason: s.reason ?? null,
    fps: round(s.fps, 2),
    viewers: s.viewers,
    lastFrameAgeSeconds: s.lastFrameAt === undefined ? null : round(Math.max(0, now - s.lastFrameAt) / 1000, 3),
  }));
  const ok = streams.every((e) => PASSING_STATES.has(e.state));
  return { status: ok ? 200 : 503, body: { status: ok ? 'ok' : 'unhealthy', time: new Date(now).toISOString(), streams } };
}

/** What happened in a histogram since an earlier reading of it; the whole histogram when it was reset meanwhile. */
export function histogramSince(now: Histogram, before: Histogram | undefined): Histogram {
  const out = new Histogram(now.bounds);
  let reset = !before || before.bounds.length !== now.bounds.length || before.count > now.count;
  for (let i = 0; !reset && i < now.counts.length; i++) reset = before!.counts[i]! > now.counts[i]!;
  out.add(now);
  if (!reset) {
    for (let i = 0; i < out.counts.length; i++) out.counts[i]! -= before!.counts[i]!;
    out.sum -= before!.sum;
    out.count -= before!.count;
  }
  return out;
}

export interface HistogramSummary {
  count: number;
  /** Upper bounds of the buckets holding the median, the 95th and the 99th percentile; null when empty or past the last bound. */
  p50: number | null;
  p95: number | null;
  p99: number | null;
  mean: number | null;
}

export function summarise(h: Histogram): HistogramSummary {
  const q = (p: number): number | null => {
    const v = h.quantile(p);
    return v === undefined || !Number.isFinite(v) ? null : v;
  };
  return { count: h.count, p50: q(0.5), p95: q(0.95), p99: q(0.99), mean: h.count > 0 ? round(h.sum / h.count, 3) : null };
}

/** The figures a stream-health node sends on its interval. */
export interface StreamFigures {
  stream: string;
  pool: string;
  state: StreamState;
  reason: string | null;
  fps: number;
  /** Frames per second the camera sends before the rate limit (pass-through cameras; null for FFmpeg). */
  sourceFps: number | null;
  /** The source's frame rate. */
  expectedFps: number;
  /** The rate asked of FFmpeg now (the low rate while nothing needs every frame; 0 while idle). */
  targetFps: number;
  frames: number;
  bytes: number;
  restarts: number;
  /** FFmpeg processes replaced without a gap by the pool's recycle policy. */
  recycles: number;
  retries: number;
  viewers: number;
  /** Frames slow viewers skipped, in total. */
  droppedFrames: number;
  /** Delivery latency (frame ready to a viewer's socket) since the previous report, in ms. */
  latencyMs: HistogramSummary;
  /** Motion detection time per frame since the previous report, in ms. */
  detectMs: HistogramSummary;
  lastFrameAgeSeconds: number | null;
  ffmpeg: { path: string; version: string; origin: string } | null;
  acceleration: string;
  fallbackReason: string | null;
  /** CPU of the stream's FFmpeg since the previous report, in % of one core; null when unknown. */
  cpuPercent: number | null;
  cpuSeconds: number | null;
  memoryBytes: number | null;
  pids: number[];
}

/** The figures of `sample`, with rates and latencies over the time since `previous` (the same stream earlier). */
export function streamFigures(sample: StreamSample, previous?: StreamSample): StreamFigures {
  const s = sample.snapshot;
  const p = previous?.snapshot;
  let cpuPercent: number | null = null;
  const u = sample.usage;
  const pu = previous?.usage;
  // The same processes (a restart gives a new pid and a CPU count from 0): the difference is this interval's work.
  if (u && pu && p && sameMembers(s.pids, p.pids) && sample.at > previous!.at && u.cpuSeconds >= pu.cpuSeconds) {
    cpuPercent = round(((u.cpuSeconds - pu.cpuSeconds) / ((sample.at - previous!.at) / 1000)) * 100, 1);
  }
  return {
    stream: s.name,
    pool: sample.pool,
    state: s.state,
    reason: s.reason ?? null,
    fps: round(s.fps, 2),
    sourceFps: s.sourceFps === undefined ? null : round(s.sourceFps, 2),
    expectedFps: s.expectedFps,
    targetFps: targetFps(s),
    frames: s.frames,
    bytes: s.bytes,
    restarts: s.restarts,
    recycles: s.recycles,
    retries: s.retries,
    viewers: s.viewers,
    droppedFrames: s.droppedFrames,
    latencyMs: summarise(histogramSince(s.latency, p?.latency)),
    detectMs: summarise(histogramSince(s.detectMs, p?.detectMs)),
    lastFrameAgeSeconds: s.lastFrameAt === undefined ? null : round(Math.max(0, sample.at - s.lastFrameAt) / 1000, 3),
    ffmpeg: s.ffmpeg ? { path: s.ffmpeg.path, version: s.ffmpeg.version, origin: s.ffmpeg.origin } : null,
    acceleration: s.acceleration,
    fallbackReason: s.fallbackReason ?? null,
    cpuPercent,
    cpuSeconds: u ? round(u.cpuSeconds, 2) : null,
    memoryBytes: u ? u.rssBytes : null,
    pids: [...s.pids],
  };
}

function sameMembers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

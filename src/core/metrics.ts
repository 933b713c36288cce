import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import { targetFps, type StreamSample } from './health';
import { DETECT_BUCKETS_MS, LATENCY_BUCKETS_MS, type Histogram } from './histogram';
import type { StreamState } from './types';

type Label = 'stream' | 'pool';
type Labels = Record<Label, string>;

const STATES: readonly StreamState[] = ['idle', 'starting', 'healthy', 'degraded', 'recovering', 'failed'];

/**
 * A histogram whose buckets are counted elsewhere (src/core/histogram.ts, observed where the time is spent) and
 * handed to prom-client at scrape time: prom-client's own Histogram only learns values one observe() at a time,
 * which would put it on the per-frame path. Registered in a prom-client Registry, which formats it like its own.
 */
class BucketHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, { labels: Labels; h: Histogram }>();
  /** `le` label values, made once: bounds in seconds as Prometheus prints them. */
  private readonly les: { le: string | number }[];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    /** Multiplies bounds and sum: our buckets are in ms, Prometheus wants seconds. */
    private readonly scale: number,
    registry: Registry,
  ) {
    this.les = [...bounds.map((b) => ({ le: round(b * scale) })), { le: '+Inf' }];
    registry.registerMetric(this as unknown as Metric);
  }

  set(labels: Labels, h: Histogram): void {
    // Bounds are fixed per metric: a histogram of other bounds would produce buckets that do not add up.
    if (h.bounds.length !== this.bounds.length || h.bounds.some((b, i) => b !== this.bounds[i])) return;
    this.series.set(`${labels.pool}\u0000${labels.stream}`, { labels, h });
  }

  reset(): void {
    this.series.clear();
  }

  /** As prom-client's Histogram answers get(): every label in `labels` (for getMetricsAsJSON). */
  async get(): Promise<MetricData> {
    const data = this.values();
    data.values = data.values.map((v) => ({ ...v, labels: { ...v.sharedLabels, ...v.labels }, sharedLabels: {} }));
    return data;
  }

  /**
   * What the registry reads for the text format, shaped as prom-client's own Histogram gives it: the series' labels
   * as `sharedLabels` (one object for all its lines, so the registry formats them once) and only `le` in `labels`.
   */
  async getForPromString(): Promise<MetricData> {
    return this.values();
  }

  private values(): MetricData {
    const values: HistogramValue[] = [];
    const bucket = `${this.name}_bucket`;
    const noLabels = {};
    for (const { labels, h } of this.series.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.les.length; i++) {
        cumulative += h.counts[i]!;
        values.push({ labels: this.les[i]!, sharedLabels: labels, value: cumulative, metricName: bucket });
      }
      values.push({ labels: noLabels, sharedLabels: labels, value: h.sum * this.scale, metricName: `${this.name}_sum` });
      values.push({ labels: noLabels, sharedLabels: labels, value: h.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

interface MetricData {
  name: string;
  help: string;
  type: string;
  aggregator: string;
  values: HistogramValue[];
}

interface HistogramValue {
  labels: Record<string, string | number>;
  sharedLabels: Labels | Record<string, never>;
  value: number;
  metricName: string;
}

/** Bounds such as 0.05 ms * 0.001 print as 0.00005, not 0.000050000000000000004. */
const round = (n: number): number => Number(n.toPrecision(12));

/** FFmpeg's own version name from the first line of `ffmpeg -version`. */
function versionName(line: string): string {
  return /^ffmpeg version (\S+)/.exec(line)?.[1] ?? line.slice(0, 60);
}

let processRegistry: Registry | undefined;

/**
 * prom-client's default metrics (CPU, memory, event loop lag, GC, handles) describe the Node.js process, and their
 * collectors (an event-loop delay monitor, a GC observer) cannot be stopped: made once per process, shared by
 * every runtime and every scrape.
 */
export function processMetricsRegistry(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * Per-stream metrics in a registry of their own (one per Node-RED runtime). Nothing here runs per frame: every
 * value is set from stream snapshots when Prometheus scrapes, and every series is rebuilt from scratch then, so the
 * series of a stream that no longer exists disappear with it.
 */
export class StreamMetrics {
  readonly registry = new Registry();
  private readonly gauges: Record<'fps' | 'targetFps' | 'retries' | 'viewers' | 'lastFrame' | 'memory', Gauge<Label>>;
  private readonly state: Gauge<Label | 'state'>;
  private readonly info: Gauge<Label | 'version' | 'acceleration'>;
  private readonly counters: Record<'frames' | 'bytes' | 'restarts' | 'dropped' | 'cpu', Counter<Label>>;
  private readonly latency: BucketHistogram;
  private readonly detect: BucketHistogram;

  constructor() {
    const registers = [this.registry];
    const labelNames: Label[] = ['stream', 'pool'];
    const gauge = (name: string, help: string): Gauge<Label> => new Gauge({ name, help, labelNames, registers });
    const counter = (name: string, help: string): Counter<Label> => new Counter({ name, help, labelNames, registers });
    this.gauges = {
      fps: gauge('glimpser_camera_fps', 'Frames per second the stream delivered, measured over the last 5 seconds.'),
      targetFps: gauge('glimpser_camera_target_fps', 'Frame rate the stream should deliver now: its source\'s rate while anything needs every frame, its low rate otherwise, 0 while idle.'),
      retries: gauge('glimpser_camera_retries', 'Consecutive failed FFmpeg starts behind the current state (0 when healthy).'),
      viewers: gauge('glimpser_camera_viewers', 'MJPEG viewers connected to the stream\'s endpoints.'),
      lastFrame: gauge('glimpser_camera_last_frame_timestamp_seconds', 'Unix time of the stream\'s last frame.'),
      memory: gauge('glimpser_ffmpeg_resident_memory_bytes', 'Resident memory of the stream\'s FFmpeg processes.'),
    };
    this.state = new Gauge({
      name: 'glimpser_camera_state',
      help: 'The stream\'s health state: 1 for the current one (idle, starting, healthy, degraded, recovering, failed), 0 for the others.',
      labelNames: ['stream', 'pool', 'state'],
      registers,
    });
    this.info = new Gauge({
      name: 'glimpser_ffmpeg_info',
      help: 'Which FFmpeg release and which decoding acceleration the stream uses (always 1).',
      labelNames: ['stream', 'pool', 'version', 'acceleration'],
      registers,
    });
    this.counters = {
      frames: counter('glimpser_camera_frames_total', 'Frames the stream delivered (each decoded frame once, whatever its outputs).'),
      bytes: counter('glimpser_camera_bytes_total', 'Bytes of JPEG and gray frames the stream delivered.'),
      restarts: counter('glimpser_camera_restarts_total', 'FFmpeg restarts of the stream after an exit or a stall.'),
      dropped: counter('glimpser_camera_dropped_frames_total', 'Frames skipped for slow viewers (each viewer holds at most one pending frame).'),
      cpu: counter('glimpser_ffmpeg_cpu_seconds_total', 'User and system CPU time of the stream\'s running FFmpeg processes (starts again from 0 when FFmpeg restarts).'),
    };
    this.latency = new BucketHistogram(
      'glimpser_camera_delivery_latency_seconds',
      'Time from a frame being ready to its being handed to a viewer\'s socket.',
      LATENCY_BUCKETS_MS,
      1e-3,
      this.registry,
    );
    this.detect = new BucketHistogram('glimpser_camera_motion_detection_seconds', 'Time motion detection took per frame.', DETECT_BUCKETS_MS, 1e-3, this.registry);
  }

  /** Sets every series from these samples; series of streams not among them are gone. */
  update(samples: readonly StreamSample[]): void {
    this.registry.resetMetrics();
    for (const { pool, snapshot: s, usage } of samples) {
      const labels: Labels = { stream: s.name, pool };
      this.gauges.fps.set(labels, s.fps);
      this.gauges.targetFps.set(labels, targetFps(s));
      this.gauges.retries.set(labels, s.retries);
      this.gauges.viewers.set(labels, s.viewers);
      if (s.lastFrameAt !== undefined) this.gauges.lastFrame.set(labels, s.lastFrameAt / 1000);
      for (const state of STATES) this.state.set({ ...labels, state }, state === s.state ? 1 : 0);
      if (s.ffmpeg) this.info.set({ ...labels, version: versionName(s.ffmpeg.version), acceleration: s.acceleration }, 1);
      this.counters.frames.inc(labels, s.frames);
      this.counters.bytes.inc(labels, s.bytes);
      this.counters.restarts.inc(labels, s.restarts);
      this.counters.dropped.inc(labels, s.droppedFrames);
      if (usage) {
        this.counters.cpu.inc(labels, usage.cpuSeconds);
        this.gauges.memory.set(labels, usage.rssBytes);
      }
      this.latency.set(labels, s.latency);
      this.detect.set(labels, s.detectMs);
    }
  }

  /** The exposition text for these samples, with prom-client's process metrics first unless left out. */
  async exposition(samples: readonly StreamSample[], withProcessMetrics = true): Promise<{ contentType: string; body: string }> {
    // No await between update and metrics(): a concurrent scrape cannot mix its samples into this one's text.
    this.update(samples);
    const registry = withProcessMetrics ? Registry.merge([processMetricsRegistry(), this.registry]) : this.registry;
    return { contentType: registry.contentType, body: await registry.metrics() };
  }
}

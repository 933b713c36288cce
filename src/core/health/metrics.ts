import { collectDefaultMetrics, Registry, type Metric } from 'prom-client';
import { targetFps, type StreamSample } from './health';
import { DETECT_BUCKETS_MS, LATENCY_BUCKETS_MS, type Histogram } from '../util/histogram';
import type { StreamState } from '../types';

type Labels = { stream: string; pool: string };
type Extra = Record<string, string | number>;

const STATES: readonly StreamState[] = ['idle', 'starting', 'healthy', 'degraded', 'recovering', 'failed'];
const STATE_LABELS: readonly Extra[] = STATES.map((state) => ({ state }));
const REFUSALS = ['full', 'address'] as const;
const REFUSAL_LABELS: readonly Extra[] = REFUSALS.map((reason) => ({ reason }));
const NO_LABELS: Extra = Object.freeze({}) as Extra;

/** One line of the text format as prom-client's Registry reads it from a metric. */
interface Value {
  /** Labels of this line alone (a histogram's `le`, a state). */
  labels: Extra;
  /** The stream's labels: one object for every line of a stream, so the registry formats them once (it caches by object). */
  sharedLabels: Labels | Extra;
  value: number;
  metricName?: string;
}

interface MetricData {
  name: string;
  help: string;
  type: string;
  aggregator: string;
  values: Value[];
}

/**
 * A metric whose values are set from snapshots when Prometheus scrapes, registered in a prom-client Registry, which
 * writes the text (HELP and TYPE lines, label escaping, number format) as for its own metrics. prom-client's Gauge,
 * Counter and Histogram are made for observing where things happen (its Histogram learns one value per observe(),
 * which would put it on the per-frame path); here the counting happens in our own counters and bucket arrays, and
 * setting thousands of label sets through those classes at every scrape costs more than the pipeline can spare.
 */
abstract class SnapshotMetric {
  readonly aggregator = 'sum';
  protected values: Value[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'gauge' | 'counter' | 'histogram',
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  reset(): void {
    this.values = [];
  }

  /** For the text format: what prom-client's own metrics hand the registry. */
  async getForPromString(): Promise<MetricData> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values };
  }

  /** For getMetricsAsJSON: every label on its value, as prom-client's own metrics answer get(). */
  async get(): Promise<MetricData> {
    const data = await this.getForPromString();
    return { ...data, values: data.values.map((v) => ({ ...v, labels: { ...v.sharedLabels, ...v.labels }, sharedLabels: {} })) };
  }
}

class SeriesMetric extends SnapshotMetric {
  set(labels: Labels, value: number, extra: Extra = NO_LABELS): void {
    this.values.push({ labels: extra, sharedLabels: labels, value });
  }
}

/** A histogram whose buckets are counted elsewhere (src/core/util/histogram.ts, observed where the time is spent). */
class BucketHistogram extends SnapshotMetric {
  /** `le` label values, made once: bounds in seconds as Prometheus prints them. */
  private readonly les: Extra[];

  constructor(
    name: string,
    help: string,
    private readonly bounds: readonly number[],
    /** Multiplies bounds and sum: our buckets are in ms, Prometheus wants seconds. */
    private readonly scale: number,
    registry: Registry,
  ) {
    super(name, help, 'histogram', registry);
    this.les = [...bounds.map((b) => ({ le: round(b * scale) })), { le: '+Inf' }];
  }

  /**
   * A histogram with no observations has no series, as a labelled prom-client histogram has none before its first
   * observe(): a stream without viewers has no delivery latency, one without motion detection no detection time.
   */
  set(labels: Labels, h: Histogram): void {
    if (h.count === 0) return;
    // Bounds are fixed per metric: a histogram of other bounds would produce buckets that do not add up.
    if (h.bounds.length !== this.bounds.length || h.bounds.some((b, i) => b !== this.bounds[i])) return;
    let cumulative = 0;
    for (let i = 0; i < this.les.length; i++) {
      cumulative += h.counts[i]!;
      this.values.push({ labels: this.les[i]!, sharedLabels: labels, value: cumulative, metricName: `${this.name}_bucket` });
    }
    this.values.push({ labels: NO_LABELS, sharedLabels: labels, value: h.sum * this.scale, metricName: `${this.name}_sum` });
    this.values.push({ labels: NO_LABELS, sharedLabels: labels, value: h.count, metricName: `${this.name}_count` });
  }
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
  private readonly gauges: Record<'fps' | 'sourceFps' | 'targetFps' | 'retries' | 'viewers' | 'lastFrame' | 'memory' | 'state' | 'info' | 'fallback', SeriesMetric>;
  private readonly counters: Record<'frames' | 'bytes' | 'restarts' | 'recycles' | 'dropped' | 'cpu' | 'refused', SeriesMetric>;
  private readonly latency: BucketHistogram;
  private readonly detect: BucketHistogram;
  /** Each stream's labels object, kept across scrapes so the registry's formatting cache holds (dropped with the stream). */
  private labelsByStream = new Map<string, Labels>();

  constructor() {
    const gauge = (name: string, help: string): SeriesMetric => new SeriesMetric(name, help, 'gauge', this.registry);
    const counter = (name: string, help: string): SeriesMetric => new SeriesMetric(name, help, 'counter', this.registry);
    this.gauges = {
      fps: gauge('glimpser_camera_fps', 'Frames per second the stream delivered, measured over the last 5 seconds.'),
      sourceFps: gauge('glimpser_camera_source_fps', 'Frames per second the camera sends, before the stream\'s rate limit (pass-through cameras only): beside glimpser_camera_fps it shows frames lost between camera and viewers.'),
      targetFps: gauge('glimpser_camera_target_fps', 'Frame rate the stream should deliver now: its source\'s rate while anything needs every frame, its low rate otherwise, 0 while idle.'),
      retries: gauge('glimpser_camera_retries', 'Consecutive failed FFmpeg starts behind the current state (0 when healthy).'),
      viewers: gauge('glimpser_camera_viewers', 'MJPEG viewers connected to the stream\'s endpoints.'),
      lastFrame: gauge('glimpser_camera_last_frame_timestamp_seconds', 'Unix time of the stream\'s last frame.'),
      memory: gauge('glimpser_ffmpeg_resident_memory_bytes', 'Resident memory of the stream\'s FFmpeg processes.'),
      state: gauge('glimpser_camera_state', 'The stream\'s health state: 1 for the current one (idle, starting, healthy, degraded, recovering, failed), 0 for the others.'),
      info: gauge('glimpser_ffmpeg_info', 'Which FFmpeg release and which decoding acceleration the stream uses (always 1).'),
      fallback: gauge('glimpser_camera_acceleration_fallback', 'The stream decodes in software although hardware decoding is configured, after a hardware failure (1), or as configured (0); stream-health and /health say why.'),
    };
    this.counters = {
      frames: counter('glimpser_camera_frames_total', 'Frames the stream delivered (each decoded frame once, whatever its outputs).'),
      bytes: counter('glimpser_camera_bytes_total', 'Bytes of JPEG and gray frames the stream delivered.'),
      recycles: counter('glimpser_ffmpeg_recycles_total', 'FFmpeg processes of the stream replaced without a gap by the pool\'s recycle policy (after a time, or above a memory bound).'),
      restarts: counter('glimpser_camera_restarts_total', 'FFmpeg restarts of the stream after an exit or a stall.'),
      dropped: counter('glimpser_camera_dropped_frames_total', 'Frames skipped for slow viewers (each viewer holds at most one pending frame).'),
      cpu: counter('glimpser_ffmpeg_cpu_seconds_total', 'User and system CPU time of the stream\'s running FFmpeg processes (starts again from 0 when FFmpeg restarts).'),
      refused: counter(
        'glimpser_camera_viewers_refused_total',
        'Viewers the stream\'s endpoints refused: reason "full" (503, max viewers reached and no lagging viewer to replace) or "address" (429, the per-address limit).',
      ),
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
    const known = this.labelsByStream;
    this.labelsByStream = new Map();
    const { gauges: g, counters: c } = this;
    for (const { pool, snapshot: s, usage } of samples) {
      const key = `${pool}\u0000${s.name}`;
      const labels = known.get(key) ?? { stream: s.name, pool };
      this.labelsByStream.set(key, labels);
      g.fps.set(labels, s.fps);
      if (s.sourceFps !== undefined) g.sourceFps.set(labels, s.sourceFps);
      g.targetFps.set(labels, targetFps(s));
      g.retries.set(labels, s.retries);
      g.viewers.set(labels, s.viewers);
      if (s.lastFrameAt !== undefined) g.lastFrame.set(labels, s.lastFrameAt / 1000);
      for (let i = 0; i < STATES.length; i++) g.state.set(labels, STATES[i] === s.state ? 1 : 0, STATE_LABELS[i]);
      if (s.ffmpeg) g.info.set(labels, 1, { version: versionName(s.ffmpeg.version), acceleration: s.acceleration });
      g.fallback.set(labels, s.fallbackReason ? 1 : 0);
      c.frames.set(labels, s.frames);
      c.bytes.set(labels, s.bytes);
      c.restarts.set(labels, s.restarts);
      c.recycles.set(labels, s.recycles);
      c.dropped.set(labels, s.droppedFrames);
      // Both reasons from the start: a rate() or an alert on a series that appears only at the first refusal misses it.
      for (let i = 0; i < REFUSALS.length; i++) c.refused.set(labels, s.viewersRefused[REFUSALS[i]!], REFUSAL_LABELS[i]);
      if (usage) {
        c.cpu.set(labels, usage.cpuSeconds);
        g.memory.set(labels, usage.rssBytes);
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

import { normalisePath } from '../core/serve/route-table';
import { trimmed } from './config';
import type { NodeDef } from './red-types';

/**
 * The settings of the stream-health and metrics nodes as the runtime accepts them, or the i18n key of why not. The
 * editors (nodes/stream-health.html, nodes/metrics.html) validate with the same rules; test/browser/health-editor.test.js
 * holds both to the same table of values.
 */

export const HEALTH_TYPE = 'glimpser-stream-health';
const DEFAULT_INTERVAL_S = 10;
const MAX_INTERVAL_S = 86_400;

export interface StreamHealthDef extends NodeDef {
  /** 'stream': one stream (named, or the ffmpeg-source wired in); 'pool': every stream of a pool. */
  scope?: string;
  stream?: string;
  pool?: string;
  /** Seconds between figure reports; 0: none. */
  interval?: string | number;
}

export interface HealthSettings {
  scope: 'stream' | 'pool';
  stream: string;
  poolId: string | undefined;
  intervalMs: number;
}

/** The editor's values as the runtime accepts them, or the i18n key (and substitutions) of why not. */
export function healthSettings(def: StreamHealthDef): HealthSettings | { error: string; subs: Record<string, string> } {
  const scope = trimmed(def.scope) || 'stream';
  if (scope !== 'stream' && scope !== 'pool') return { error: 'stream-health.errors.scope', subs: { scope } };
  const raw = def.interval;
  const blank = raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '');
  const seconds = blank ? DEFAULT_INTERVAL_S : Number(raw);
  // 0 turns the reports off; otherwise at least one a second, which is as often as the fps figure changes.
  if (!Number.isFinite(seconds) || (seconds !== 0 && (seconds < 1 || seconds > MAX_INTERVAL_S))) {
    return { error: 'stream-health.errors.interval', subs: { value: String(raw) } };
  }
  return { scope, stream: trimmed(def.stream), poolId: trimmed(def.pool) || undefined, intervalMs: Math.round(seconds * 1000) };
}

export const METRICS_TYPE = 'glimpser-metrics';
export const DEFAULT_METRICS_PATH = '/glimpser/metrics';
export const DEFAULT_HEALTH_PATH = '/glimpser/health';

export interface MetricsDef extends NodeDef {
  path?: string;
  healthPath?: string;
  /** Include prom-client's Node.js process metrics (CPU, memory, event loop lag, GC). */
  processMetrics?: boolean;
}

export interface MetricsSettings {
  metricsPath: string | undefined;
  healthPath: string | undefined;
  processMetrics: boolean;
}

/**
 * A path field: missing means the default (a flow from before the field existed), an empty string means "not
 * served"; anything else must be a plain path.
 */
function pathSetting(value: unknown, fallback: string): { path: string | undefined } | { bad: string } {
  if (value === undefined || value === null) return { path: fallback };
  const text = trimmed(value);
  if (text === '') return { path: undefined };
  const path = normalisePath(text);
  return path ? { path } : { bad: String(value) };
}

export function metricsSettings(def: MetricsDef): MetricsSettings | { error: string; subs: Record<string, string> } {
  const m = pathSetting(def.path, DEFAULT_METRICS_PATH);
  if ('bad' in m) return { error: 'metrics.errors.path', subs: { path: m.bad } };
  const h = pathSetting(def.healthPath, DEFAULT_HEALTH_PATH);
  if ('bad' in h) return { error: 'metrics.errors.path', subs: { path: h.bad } };
  if (!m.path && !h.path) return { error: 'metrics.errors.nothing', subs: {} };
  if (m.path && m.path === h.path) return { error: 'metrics.errors.samePath', subs: { path: m.path } };
  return { metricsPath: m.path, healthPath: h.path, processMetrics: def.processMetrics !== false };
}

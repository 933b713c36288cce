import type { FallbackOptions, HwaccelFallback } from '../core/hwaccel/fallback';
import { METHODS, isHwMethod, type HwaccelMode, type HwaccelPlan } from '../core/hwaccel/methods';
import type { ProbeReport } from '../core/hwaccel/probe';
import type { Node, NodeDef } from './red-types';

export const HWACCEL_TYPE = 'glimpser-hwaccel-config';
export const MODES: readonly HwaccelMode[] = ['auto', 'off', 'vaapi', 'qsv', 'cuda', 'videotoolbox', 'd3d11va', 'dxva2', 'v4l2m2m', 'drm', 'vulkan'];
/** A device file under /dev (no '..'), or an adapter/GPU index. The editor validates with the same pattern. */
export const DEVICE_RE = /^(?:\/dev\/(?!.*\.\.)[A-Za-z0-9_.\/-]{1,64}|\d{1,2})$/;
const DEFAULT_RETRY_MIN = 10;
const MAX_RETRY_MIN = 24 * 60;

export interface HwaccelConfigDef extends NodeDef {
  mode?: string;
  device?: string;
  /** Minutes before acceleration is tried again after a fallback; 0 = only on redeploy. */
  retryInterval?: string | number;
}

export class HwaccelConfigError extends Error {
  override readonly name = 'HwaccelConfigError';
}

export interface Settings {
  mode: HwaccelMode;
  device: string | undefined;
  retryMs: number;
}

/** Config values as the runtime accepts them; anything else is refused with the i18n key of the reason. */
export function normaliseSettings(def: Pick<HwaccelConfigDef, 'mode' | 'device' | 'retryInterval'>): Settings | { error: string; subs: Record<string, string> } {
  const mode = (typeof def.mode === 'string' && def.mode.trim() ? def.mode.trim() : 'auto') as HwaccelMode;
  if (!MODES.includes(mode)) return { error: 'hwaccel-config.errors.mode', subs: { mode: String(def.mode) } };
  const raw = typeof def.device === 'string' ? def.device.trim() : '';
  if (raw && !DEVICE_RE.test(raw)) return { error: 'hwaccel-config.errors.device', subs: { device: raw } };
  const usesDevice = isHwMethod(mode) && METHODS[mode].device !== 'none';
  const retry = def.retryInterval;
  const blank = retry === undefined || retry === null || (typeof retry === 'string' && retry.trim() === '');
  const minutes = blank ? DEFAULT_RETRY_MIN : Number(retry);
  if (!Number.isFinite(minutes) || minutes < 0 || minutes > MAX_RETRY_MIN) return { error: 'hwaccel-config.errors.retry', subs: { value: String(retry) } };
  return { mode, device: usesDevice && raw ? raw : undefined, retryMs: Math.round(minutes * 60_000) };
}

export interface PlanResult {
  plan: HwaccelPlan;
  report: ProbeReport;
  /** Why the plan is not what the mode asked for (software instead), for the log and the stream's health. */
  note?: string;
}

export interface HwaccelConfigNode extends Node {
  mode: HwaccelMode;
  device: string | undefined;
  /** For the stream's HwaccelFallback: the retry interval chosen here. */
  fallbackOptions: Partial<FallbackOptions>;
  /** Probes the binary the stream runs (cached per binary and device set) and picks the plan for the mode. */
  plan(ffmpegPath: string): Promise<PlanResult>;
  /** The runtime fallback policy for one stream using `plan`. */
  createFallback(plan: HwaccelPlan): HwaccelFallback;
}

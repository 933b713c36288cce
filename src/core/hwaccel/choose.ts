/**
 * Which plan a camera gets from a probe report: auto takes the best method that passed, a named method only where
 * it passed, otherwise software with the reason.
 */
import { AUTO_ORDER, SOFTWARE, hardwarePlan, isHwMethod, type HwaccelMode, type HwaccelPlan, type TestCodec } from './methods';
import type { ProbeEntry, ProbeReport } from './probe';

function entryRank(e: ProbeEntry): number {
  return AUTO_ORDER.indexOf(e.method);
}

function passedCodecs(e: ProbeEntry): TestCodec[] {
  const out: TestCodec[] = [];
  if (e.codecs.h264.status === 'passed') out.push('h264');
  if (e.codecs.hevc?.status === 'passed') out.push('hevc');
  return out;
}

export function planFromEntry(report: ProbeReport, e: ProbeEntry): HwaccelPlan {
  return hardwarePlan(e.method, { device: e.device, filters: report.filters, codecs: passedCodecs(e) });
}

function describe(e: ProbeEntry): string {
  return e.device ? `${e.method} on ${e.device}` : e.method;
}

/**
 * The plan for a mode given a probe report. Auto takes the best method that passed (in AUTO_ORDER; the first
 * device that passed); a named method is used only where it passed on the named device (or any device when none
 * is named); otherwise software, with a note that says why.
 */
export function planFor(report: ProbeReport, mode: HwaccelMode, device?: string): { plan: HwaccelPlan; note?: string } {
  if (mode === 'off') return { plan: SOFTWARE };
  const passed = report.entries.filter((e) => e.status === 'passed');
  if (mode === 'auto') {
    const best = [...passed].sort((a, b) => entryRank(a) - entryRank(b))[0];
    if (best) return { plan: planFromEntry(report, best) };
    return { plan: SOFTWARE, note: 'no hardware decoding method passed the probe: decoding in software' };
  }
  if (!isHwMethod(mode)) throw new RangeError(`Unknown hardware decoding mode "${String(mode)}"`);
  const wanted = device?.trim() || undefined;
  const mine = report.entries.filter((e) => e.method === mode && (wanted === undefined || e.device === wanted));
  const ok = mine.find((e) => e.status === 'passed');
  if (ok) return { plan: planFromEntry(report, ok) };
  const label = wanted ? `${mode} on ${wanted}` : mode;
  const why = mine[0];
  if (!why) return { plan: SOFTWARE, note: `${label} was not probed: decoding in software` };
  if (why.status === 'absent') return { plan: SOFTWARE, note: `${describe(why)} is not available in this FFmpeg (${why.reason ?? 'absent'}): decoding in software` };
  return { plan: SOFTWARE, note: `${describe(why)} did not pass the probe (${why.reason ?? 'failed'}): decoding in software` };
}

import { resolveFfmpeg, type FfmpegBinary } from '../core/ffmpeg/binary';
import { planFor } from '../core/hwaccel/choose';
import { isHwMethod, type HwaccelPlan, type HwMethod } from '../core/hwaccel/methods';
import { HwaccelFallback } from '../core/hwaccel/fallback';
import { probeHwaccels, withNamedDevices, type DeviceMap } from '../core/hwaccel/probe';
import { HWACCEL_TYPE, HwaccelConfigError, normaliseSettings, type HwaccelConfigDef, type HwaccelConfigNode, type PlanResult, type Settings } from './hwaccel-settings';
import type { NodeRedRuntime } from './red-types';

const POOL_TYPE = 'glimpser-process-pool';
const ROUTE = '/glimpser-hwaccel-config/probe';



/** Every device named by a deployed hwaccel-config node, so one probe covers all of them. */
function namedDevices(RED: NodeRedRuntime): DeviceMap {
  const named: Array<{ method: HwMethod; device?: string }> = [];
  RED.nodes.eachNode((d) => {
    if (d.type !== HWACCEL_TYPE) return;
    const s = normaliseSettings(d as HwaccelConfigDef);
    if (!('error' in s) && isHwMethod(s.mode) && s.device) named.push({ method: s.mode, device: s.device });
  });
  return withNamedDevices(named);
}

/** The FFmpeg a process-pool config node runs (its configured path, resolved the pool's way), or the default. */
async function binaryFor(RED: NodeRedRuntime, poolId: string | undefined): Promise<FfmpegBinary> {
  if (!poolId) return resolveFfmpeg();
  let path: string | undefined;
  let found = false;
  RED.nodes.eachNode((d) => {
    if (d.type === POOL_TYPE && d.id === poolId) {
      found = true;
      path = typeof d.ffmpegPath === 'string' ? d.ffmpegPath : undefined;
    }
  });
  if (!found) throw new HwaccelConfigError(RED._('hwaccel-config.errors.pool', { id: poolId }));
  return resolveFfmpeg(path);
}

function summary(plan: { plan: HwaccelPlan; note?: string }): { method: string; device?: string; label: string; note?: string } {
  return { method: plan.plan.method, device: plan.plan.device, label: plan.plan.label, ...(plan.note ? { note: plan.note } : {}) };
}

/** Query values are strings or nothing; anything else (arrays from repeated keys) counts as absent. */
function queryString(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

interface Req {
  query: Record<string, unknown>;
}
interface Res {
  status(code: number): Res;
  json(body: unknown): void;
}

function registerAdmin(RED: NodeRedRuntime): void {
  const answer = async (req: Req, res: Res, again: boolean): Promise<void> => {
    try {
      const pool = queryString(req.query.pool);
      if (pool !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(pool)) {
        res.status(400).json({ error: RED._('hwaccel-config.errors.pool', { id: pool }) });
        return;
      }
      // The editor's unsaved mode and device: checked as the runtime would, used only to say which plan they get.
      const wanted = normaliseSettings({ mode: queryString(req.query.mode), device: queryString(req.query.device) });
      if ('error' in wanted) {
        res.status(400).json({ error: RED._(wanted.error, wanted.subs) });
        return;
      }
      const binary = await binaryFor(RED, pool);
      const devices = namedDevices(RED);
      if (again && isHwMethod(wanted.mode) && wanted.device) {
        const list = devices[wanted.mode] ?? [];
        devices[wanted.mode] = [...new Set([...list.filter((d) => d !== undefined), wanted.device])];
      }
      const report = await probeHwaccels(binary.path, { devices, reprobe: again });
      res.json({
        binary: { path: binary.path, origin: binary.origin, version: binary.version },
        report,
        auto: summary(planFor(report, 'auto')),
        selected: summary(planFor(report, wanted.mode, wanted.device)),
      });
    } catch (err) {
      const e = err as Error;
      res.status(e instanceof HwaccelConfigError ? 404 : 500).json({ error: e.message });
    }
  };
  RED.httpAdmin.get(ROUTE, RED.auth.needsPermission('glimpser-hwaccel-config.read'), (req: Req, res: Res) => void answer(req, res, false));
  RED.httpAdmin.post(ROUTE, RED.auth.needsPermission('glimpser-hwaccel-config.write'), (req: Req, res: Res) => void answer(req, res, true));
}

function register(RED: NodeRedRuntime): void {
  function HwaccelConfig(this: HwaccelConfigNode, def: HwaccelConfigDef): void {
    RED.nodes.createNode(this, def);
    const s = normaliseSettings(def);
    // A bad value is refused loudly, and the streams still run: in software, with the error as the note.
    const refused = 'error' in s ? RED._(s.error, s.subs) : undefined;
    if (refused) this.error(refused);
    const settings: Settings = 'error' in s ? { mode: 'off', device: undefined, retryMs: 0 } : s;
    this.mode = settings.mode;
    this.device = settings.device;
    this.fallbackOptions = { retryMs: settings.retryMs };
    const logged = new Set<string>();
    this.plan = async (ffmpegPath: string): Promise<PlanResult> => {
      const report = await probeHwaccels(ffmpegPath, { devices: namedDevices(RED) });
      const chosen = planFor(report, settings.mode, settings.device);
      const note = refused ?? chosen.note;
      const key = `${ffmpegPath}\0${chosen.plan.label}\0${note ?? ''}`;
      if (!logged.has(key)) {
        // Once per binary and outcome, not once per stream.
        logged.add(key);
        this.log(RED._('hwaccel-config.log.plan', { plan: chosen.plan.label, ffmpeg: ffmpegPath }));
        if (note && !refused) this.warn(note);
      }
      return { plan: chosen.plan, report, ...(note ? { note } : {}) };
    };
    this.createFallback = (plan: HwaccelPlan) => new HwaccelFallback(plan.method, { retryMs: settings.retryMs });
  }
  RED.nodes.registerType(HWACCEL_TYPE, HwaccelConfig);
  registerAdmin(RED);
}

export = register;

/**
 * Which hardware decoding methods work with this FFmpeg on this machine, found by decoding, not by reading lists.
 *
 * `ffmpeg -hwaccels` only says what was compiled in. Each candidate is tried with a real decode of a small clip
 * made at probe time (H.264, and HEVC where this FFmpeg can encode one), on each device, through the very filter
 * chains the capture will use, with the frames forced to stay in hardware memory: a decoder that quietly falls
 * back to software (FFmpeg's default when a hwaccel fails to initialise) then fails at `hwdownload` instead of
 * passing. A pass also needs the frames to come out, JPEG and gray both.
 */
import { accessSync, constants, existsSync, promises as fsp, readdirSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { probeVersion, releaseOf } from '../ffmpeg/binary';
import { runFfmpeg } from '../ffmpeg/run';
import { failureLine as failureLine } from './fallback';
import { AUTO_ORDER, METHODS, hardwarePlan, type HwMethod, type TestCodec } from './methods';

export type ProbeStatus = 'passed' | 'failed' | 'absent';

export interface CodecResult {
  status: 'passed' | 'failed' | 'skipped';
  /** Why it failed or was skipped: FFmpeg's own line where it gave one. */
  reason?: string;
  /** JPEG frames that came out of the test decode. */
  frames?: number;
}

export interface ProbeEntry {
  method: HwMethod;
  /** Render node, GPU or adapter index; undefined = FFmpeg's default device for the method. */
  device?: string;
  status: ProbeStatus;
  /** For failed and absent: the reason (for failed, the stderr line that says why). */
  reason?: string;
  /** What to do about it, where we know (map /dev/dri, the render group, the NVIDIA runtime…). */
  hint?: string;
  codecs: { h264: CodecResult; hevc?: CodecResult };
  /** The last stderr lines of the failed decode, for the editor. */
  stderr?: string[];
}

export interface ProbeReport {
  ffmpegPath: string;
  /** First line of `ffmpeg -version`. */
  version: string;
  release?: { major: number; minor: number };
  /** As listed by `ffmpeg -hwaccels`. */
  hwaccels: string[];
  entries: ProbeEntry[];
  /** Listed methods glimpser does not decode with, and why. */
  unused: Array<{ method: string; reason: string }>;
  /** The GPU scalers and hwdownload this binary has (they shape the filter chains). */
  filters: string[];
  /** Encoders used to make the test clips; hevc absent when this FFmpeg cannot encode HEVC. */
  clips: { h264?: string; hevc?: string };
  /** Something that limits the whole report (no encoder for a test clip…). */
  note?: string;
  /** Epoch ms at which the probe ran, and how long it took. */
  probedAt: number;
  durationMs: number;
}

export type DeviceMap = Partial<Record<HwMethod, Array<string | undefined>>>;

export interface ProbeOptions {
  /** Devices to try per method; methods not named get the defaults (render nodes found under /dev/dri…). */
  devices?: DeviceMap;
  /** Per FFmpeg run. */
  timeoutMs?: number;
  /** Where the test clips are written (a fresh folder inside, removed afterwards). */
  tmpDir?: string;
  /** Ignore the cache and probe again. */
  reprobe?: boolean;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const CLIP_FRAMES = 10;
/** 16-aligned both ways: some hardware decoders refuse other sizes. */
const CLIP_SIZE = '320x240';
const GPU_FILTERS = ['hwdownload', 'hwupload', 'scale_vaapi', 'scale_cuda', 'scale_npp', 'scale_qsv', 'vpp_qsv', 'scale_vulkan', 'scale_vt'];
const H264_ENCODERS = ['libx264', 'libopenh264', 'h264'];
const HEVC_ENCODERS = ['libx265', 'hevc'];
const UNUSED: Record<string, string> = {
  vdpau: 'VDPAU needs an X11 display and is superseded by VAAPI and NVDEC (cuda)',
  opencl: 'OpenCL is a filtering device, not a decoder',
  mediacodec: 'MediaCodec is Android only',
  amf: 'AMF is an encoder',
};

const cache = new Map<string, Promise<ProbeReport>>();
const versions = new Map<string, { stamp: string; text: string }>();

/** Render nodes under /dev/dri, in order; none in a container without `/dev/dri` mapped. */
export function renderNodes(dir = '/dev/dri'): string[] {
  try {
    return readdirSync(dir).filter((f) => /^renderD\d+$/.test(f)).sort().map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

/** NVIDIA GPUs the driver shows, as CUDA indices; one default device when it shows none (the probe says why). */
function cudaDevices(): Array<string | undefined> {
  try {
    const n = readdirSync('/proc/driver/nvidia/gpus').length;
    if (n > 1) return Array.from({ length: n }, (_, i) => String(i));
  } catch {
    // no NVIDIA driver: probe FFmpeg's default, which reports the real reason
  }
  return [undefined];
}

export function defaultDevices(): Record<HwMethod, Array<string | undefined>> {
  const render = renderNodes();
  const nodes = render.length ? render : [undefined];
  return {
    cuda: cudaDevices(),
    vaapi: nodes,
    qsv: nodes,
    drm: nodes,
    videotoolbox: [undefined],
    d3d11va: [undefined],
    dxva2: [undefined],
    v4l2m2m: [undefined],
    vulkan: [undefined],
  };
}

/**
 * The default devices plus those named in configuration: every named device gets probed, and every user of the
 * same binary shares one probe (one device set, one cache entry).
 */
export function withNamedDevices(named: ReadonlyArray<{ method: HwMethod; device?: string }>): DeviceMap {
  const defaults = defaultDevices();
  const out: DeviceMap = {};
  for (const m of AUTO_ORDER) {
    const mine = METHODS[m].device === 'none' ? [] : named.filter((n) => n.method === m).map((n) => n.device?.trim() || undefined);
    const list = [...defaults[m], ...mine];
    const defined = [...new Set(list.filter((d): d is string => d !== undefined))].sort();
    out[m] = defined.length ? defined : [undefined];
  }
  return out;
}

function resolveDevices(given: DeviceMap | undefined): Record<HwMethod, Array<string | undefined>> {
  const out = defaultDevices();
  for (const m of AUTO_ORDER) {
    const list = given?.[m];
    if (!list || list.length === 0) continue;
    const clean = [...new Set(list.map((d) => (typeof d === 'string' && d.trim() ? d.trim() : undefined)))];
    for (const d of clean) {
      if (d?.startsWith('-')) throw new RangeError(`Device "${d}" for ${m} must not start with "-"`);
    }
    out[m] = clean;
  }
  return out;
}

/** Names in the second column of `ffmpeg -filters` / `-decoders` / `-encoders` listings. */
function listedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^\s*[A-Z.|]{3,8}\s+(\S+)\s/.exec(line);
    if (m && m[1] !== '=') names.add(m[1]!);
  }
  return names;
}

function parseHwaccels(text: string): string[] {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const at = lines.findIndex((l) => /^Hardware acceleration methods:?$/i.test(l));
  return at === -1 ? [] : lines.slice(at + 1).filter((l) => /^[a-z0-9_]+$/i.test(l));
}

async function listing(ffmpeg: string, flag: string, timeoutMs: number): Promise<string> {
  const r = await runFfmpeg(ffmpeg, ['-hide_banner', flag], { timeoutMs });
  if (r.timedOut) throw new Error(`"${ffmpeg} ${flag}" did not answer within ${timeoutMs} ms`);
  if (r.code !== 0) throw new Error(`"${ffmpeg} ${flag}" failed: ${failureLine(r.stderr) || `exit ${r.code ?? r.signal}`}`);
  return r.stdout;
}

async function makeClip(ffmpeg: string, file: string, encoders: readonly string[], available: Set<string>, timeoutMs: number): Promise<{ encoder?: string; error?: string }> {
  let error: string | undefined;
  for (const encoder of encoders.filter((e) => available.has(e))) {
    const extra = encoder === 'libx265' ? ['-x265-params', 'log-level=error'] : [];
    const r = await runFfmpeg(ffmpeg, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', `testsrc2=size=${CLIP_SIZE}:rate=10`, '-frames:v', String(CLIP_FRAMES),
      '-c:v', encoder, ...extra, '-pix_fmt', 'yuv420p', '-g', String(CLIP_FRAMES), file], { timeoutMs });
    if (r.code === 0 && existsSync(file) && statSync(file).size > 0) return { encoder };
    error = `${encoder}: ${failureLine(r.stderr) || `exit ${r.code ?? r.signal}`}`;
  }
  return { error };
}

/** Extra words for a failure we recognise: what the user can do about it. */
function hintFor(method: HwMethod, device: string | undefined, stderr: string): string | undefined {
  const spec = METHODS[method];
  if (spec.device === 'render-node') {
    if (!device) return 'no render node under /dev/dri: map /dev/dri into the container (Docker: --device /dev/dri)';
    if (!existsSync(device)) return `${device} does not exist: map /dev/dri into the container`;
    try {
      accessSync(device, constants.R_OK | constants.W_OK);
    } catch {
      return `no read/write access to ${device}: add the Node-RED user to the group that owns it (usually "render")`;
    }
  }
  if (/Impossible to convert between the formats|A hardware frames? (?:context|reference) is required|must have a hardware frame reference/i.test(stderr)) {
    return `frames came back in system memory: this FFmpeg decodes this codec in software despite -hwaccel ${method} (a silent fallback, not counted as a pass)`;
  }
  if (method === 'cuda' && /libcuda|CUDA_ERROR_NO_DEVICE|CUDA_ERROR_NOT_INITIALIZED/i.test(stderr)) {
    return 'no NVIDIA driver visible: install it on the host; in Docker use the NVIDIA Container Toolkit (--gpus all)';
  }
  if (method === 'qsv' && /MFX|oneVPL|libmfx/i.test(stderr)) return 'Intel media runtime (oneVPL / Media SDK) missing or too old for this GPU';
  if (method === 'v4l2m2m') return 'needs a V4L2 memory-to-memory decoder device (/dev/video*), e.g. on a Raspberry Pi';
  return undefined;
}

interface DecodeResult {
  ok: boolean;
  frames: number;
  reason?: string;
  stderr: string[];
}

/** One test decode through the capture's own chains: JPEG at 160 wide and gray 64x48 from one split. */
async function tryDecode(ffmpeg: string, clip: string, method: HwMethod, device: string | undefined, codec: TestCodec,
  filters: string[], timeoutMs: number): Promise<DecodeResult> {
  const plan = hardwarePlan(method, { device, filters, codecs: [codec] }).forCodec(codec);
  const graph = `[0:v]split=2[a][b];[a]${plan.scaleChain({ width: 160 }, 'yuv420p')}[o1];[b]${plan.scaleChain({ width: 64, height: 48 }, 'gray')}[o2]`;
  const r = await runFfmpeg(ffmpeg, ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', ...plan.inputArgs,
    '-i', clip, '-filter_complex', graph, '-map', '[o1]', '-map', '[o2]',
    '-c:v:0', 'mjpeg', '-pix_fmt:v:0', 'yuvj420p', '-q:v:0', '5', '-c:v:1', 'rawvideo', '-f', 'framecrc', 'pipe:1'], { timeoutMs });
  const counts = [0, 0];
  for (const line of r.stdout.split('\n')) {
    const m = /^(\d+),/.exec(line);
    if (m && Number(m[1]) < 2) counts[Number(m[1])]!++;
  }
  const frames = Math.min(counts[0]!, counts[1]!);
  const stderr = r.stderr.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).slice(-8);
  if (r.timedOut) return { ok: false, frames, reason: `no answer within ${timeoutMs} ms (driver hung?)`, stderr };
  if (r.code === 0 && frames * 2 >= CLIP_FRAMES) return { ok: true, frames, stderr };
  const why = failureLine(r.stderr) || (r.code === 0 ? `only ${frames} of ${CLIP_FRAMES} frames came out` : `exit ${r.code ?? r.signal}`);
  return { ok: false, frames, reason: why, stderr };
}

function absentReason(method: HwMethod, hwaccels: Set<string>, decoders: Set<string>): string | undefined {
  const spec = METHODS[method];
  if (spec.hwaccel && !hwaccels.has(spec.hwaccel)) return `not in this FFmpeg's -hwaccels list`;
  if (spec.decoders && !decoders.has(spec.decoders.h264)) return `this FFmpeg has no ${spec.decoders.h264} decoder`;
  return undefined;
}

async function runProbe(ffmpeg: string, versionText: string, devices: Record<HwMethod, Array<string | undefined>>, o: ProbeOptions): Promise<ProbeReport> {
  const started = Date.now();
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const hwaccelList = parseHwaccels(await listing(ffmpeg, '-hwaccels', timeoutMs));
  const filterNames = listedNames(await listing(ffmpeg, '-filters', timeoutMs));
  const decoders = listedNames(await listing(ffmpeg, '-decoders', timeoutMs));
  const encoders = listedNames(await listing(ffmpeg, '-encoders', timeoutMs));
  const hwaccels = new Set(hwaccelList);
  const filters = GPU_FILTERS.filter((f) => filterNames.has(f));
  const known = new Set(Object.values(METHODS).map((s) => s.hwaccel).filter(Boolean));
  const unused = hwaccelList.filter((h) => !known.has(h)).map((method) => ({ method, reason: UNUSED[method] ?? 'not a decoding method glimpser uses' }));

  const dir = await fsp.mkdtemp(path.join(o.tmpDir ?? os.tmpdir(), 'glimpser-hwprobe-'));
  try {
    const h264File = path.join(dir, 'probe-h264.mp4');
    const hevcFile = path.join(dir, 'probe-hevc.mp4');
    const h264 = await makeClip(ffmpeg, h264File, H264_ENCODERS, encoders, timeoutMs);
    const hevc = await makeClip(ffmpeg, hevcFile, HEVC_ENCODERS, encoders, timeoutMs);
    const note = h264.encoder ? undefined : `could not make an H.264 test clip (${h264.error ?? 'this FFmpeg has no H.264 encoder'}): nothing can be verified, so nothing is used`;
    const entries: ProbeEntry[] = [];
    for (const method of AUTO_ORDER) {
      const absent = absentReason(method, hwaccels, decoders);
      if (absent) {
        entries.push({ method, status: 'absent', reason: absent, codecs: { h264: { status: 'skipped', reason: absent } } });
        continue;
      }
      for (const device of devices[method]) {
        if (!h264.encoder) {
          entries.push({ method, device, status: 'failed', reason: note, codecs: { h264: { status: 'skipped', reason: note } } });
          continue;
        }
        const first = await tryDecode(ffmpeg, h264File, method, device, 'h264', filters, timeoutMs);
        const entry: ProbeEntry = {
          method,
          device,
          status: first.ok ? 'passed' : 'failed',
          codecs: { h264: first.ok ? { status: 'passed', frames: first.frames } : { status: 'failed', reason: first.reason, frames: first.frames } },
        };
        if (!first.ok) {
          entry.reason = first.reason;
          entry.stderr = first.stderr;
          const hint = hintFor(method, device, first.stderr.join('\n'));
          if (hint) entry.hint = hint;
        }
        if (hevc.encoder) {
          if (!first.ok) {
            entry.codecs.hevc = { status: 'skipped', reason: 'H.264 failed on this device' };
          } else if (METHODS[method].decoders && !decoders.has(METHODS[method].decoders!.hevc)) {
            entry.codecs.hevc = { status: 'skipped', reason: `this FFmpeg has no ${METHODS[method].decoders!.hevc} decoder` };
          } else {
            const second = await tryDecode(ffmpeg, hevcFile, method, device, 'hevc', filters, timeoutMs);
            entry.codecs.hevc = second.ok ? { status: 'passed', frames: second.frames } : { status: 'failed', reason: second.reason, frames: second.frames };
          }
        }
        entries.push(entry);
      }
    }
    return {
      ffmpegPath: ffmpeg,
      version: versionText.split('\n')[0]!.trim(),
      release: releaseOf(versionText),
      hwaccels: hwaccelList,
      entries,
      unused,
      filters,
      clips: { h264: h264.encoder, hevc: hevc.encoder },
      ...(note ? { note } : {}),
      probedAt: started,
      durationMs: Date.now() - started,
    };
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

function fileStamp(file: string): string {
  try {
    const st = statSync(file);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return '-';
  }
}

/**
 * The probe report for this FFmpeg and device set, from the cache when this binary (path, version, file stamp)
 * was probed with the same devices, else probed now. Concurrent callers share one probe.
 */
export async function probeHwaccels(ffmpegPath: string, opts: ProbeOptions = {}): Promise<ProbeReport> {
  if (typeof ffmpegPath !== 'string' || !ffmpegPath.trim()) throw new TypeError('probeHwaccels needs the path of an FFmpeg binary');
  const devices = resolveDevices(opts.devices);
  // Every stream start asks for its plan: `-version` runs again only when the file changed (an upgrade).
  const stamp = fileStamp(ffmpegPath);
  let known = versions.get(ffmpegPath);
  if (!known || known.stamp !== stamp || stamp === '-') {
    known = { stamp, text: await probeVersion(ffmpegPath, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS) };
    versions.set(ffmpegPath, known);
  }
  const versionText = known.text;
  const key = [ffmpegPath, versionText.split('\n')[0], stamp, JSON.stringify(AUTO_ORDER.map((m) => [m, devices[m]]))].join('\0');
  const prior = cache.get(key);
  if (prior && !opts.reprobe) return prior;
  // A re-probe waits for one in flight rather than racing it over the same devices.
  const run = (prior ?? Promise.resolve()).catch(() => undefined).then(() => runProbe(ffmpegPath, versionText, devices, opts));
  cache.set(key, run);
  run.catch(() => {
    if (cache.get(key) === run) cache.delete(key);
  });
  return run;
}

/** Probes again, replacing the cached report. */
export function reprobe(ffmpegPath: string, opts: Omit<ProbeOptions, 'reprobe'> = {}): Promise<ProbeReport> {
  return probeHwaccels(ffmpegPath, { ...opts, reprobe: true });
}

/** Forgets every cached report (tests; a binary swapped under the same path and version). */
export function clearProbeCache(): void {
  cache.clear();
  versions.clear();
}

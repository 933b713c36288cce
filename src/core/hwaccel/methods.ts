/**
 * How each hardware decoding method is asked of FFmpeg, and the filter chains that turn its frames into what our
 * outputs need (JPEG-ready frames of a width, small 8-bit luma frames for motion).
 *
 * Every hardware plan keeps the decoded frames in hardware memory (`-hwaccel_output_format`), so a decoder that
 * cannot use the device fails loudly instead of decoding in software behind our back (FFmpeg's silent fallback),
 * and scales on the GPU before `hwdownload` where the binary has a GPU scaler, so only small frames cross the bus.
 */
import type { ChainFormat, DecodePlan, ScaleBox } from '../ffmpeg/decode-plan';

export type HwMethod = 'cuda' | 'vaapi' | 'qsv' | 'videotoolbox' | 'd3d11va' | 'dxva2' | 'v4l2m2m' | 'drm' | 'vulkan';

export type HwaccelMode = 'auto' | 'off' | HwMethod;

export type TestCodec = 'h264' | 'hevc';

interface MethodSpec {
  /** Its name in `ffmpeg -hwaccels`; undefined for methods that are separate decoders (v4l2m2m). */
  hwaccel?: string;
  /** Frames stay in this hardware format, so a failed hardware init is an error, never a quiet software decode. */
  outputFormat?: string;
  /** Methods that decode through codec-specific decoders rather than FFmpeg's native ones with a hwaccel. */
  decoders?: Record<TestCodec, string>;
  /** How a device is named: a DRM render node, an adapter or GPU index, or no choice at all. */
  device: 'render-node' | 'index' | 'none';
  deviceOption?: '-hwaccel_device' | '-qsv_device';
  /** GPU scalers, best first; the first this binary has (`ffmpeg -filters`) is used. */
  scalers: readonly string[];
}

export const METHODS: Readonly<Record<HwMethod, MethodSpec>> = {
  cuda: { hwaccel: 'cuda', outputFormat: 'cuda', device: 'index', deviceOption: '-hwaccel_device', scalers: ['scale_cuda'] },
  vaapi: { hwaccel: 'vaapi', outputFormat: 'vaapi', device: 'render-node', deviceOption: '-hwaccel_device', scalers: ['scale_vaapi'] },
  // Before FFmpeg 6 `-hwaccel qsv` works only with the *_qsv decoders; -qsv_device picks the render node (Linux)
  // or adapter (Windows) in every release since 3.x.
  qsv: { hwaccel: 'qsv', outputFormat: 'qsv', decoders: { h264: 'h264_qsv', hevc: 'hevc_qsv' }, device: 'render-node', deviceOption: '-qsv_device', scalers: ['scale_qsv', 'vpp_qsv'] },
  videotoolbox: { hwaccel: 'videotoolbox', outputFormat: 'videotoolbox_vld', device: 'none', scalers: [] },
  d3d11va: { hwaccel: 'd3d11va', outputFormat: 'd3d11', device: 'index', deviceOption: '-hwaccel_device', scalers: [] },
  dxva2: { hwaccel: 'dxva2', outputFormat: 'dxva2_vld', device: 'index', deviceOption: '-hwaccel_device', scalers: [] },
  v4l2m2m: { decoders: { h264: 'h264_v4l2m2m', hevc: 'hevc_v4l2m2m' }, device: 'none', scalers: [] },
  drm: { hwaccel: 'drm', outputFormat: 'drm_prime', device: 'render-node', deviceOption: '-hwaccel_device', scalers: [] },
  vulkan: { hwaccel: 'vulkan', outputFormat: 'vulkan', device: 'index', deviceOption: '-hwaccel_device', scalers: [] },
};

/**
 * Order of preference in auto mode. Methods that take any codec through the native decoder come first; the
 * codec-specific decoders (qsv, v4l2m2m) only when nothing else passed, since a camera in another codec would need
 * another decoder. NVDEC ahead of VAAPI: a discrete NVIDIA card is there to be used.
 */
export const AUTO_ORDER: readonly HwMethod[] = ['cuda', 'vaapi', 'videotoolbox', 'd3d11va', 'dxva2', 'qsv', 'v4l2m2m', 'drm', 'vulkan'];

export const HW_METHODS = Object.keys(METHODS) as HwMethod[];

export function isHwMethod(v: unknown): v is HwMethod {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(METHODS, v);
}

export type { ChainFormat, ScaleBox };

/** A decode plan with the method that made it and its per-codec variants. */
export interface HwaccelPlan extends DecodePlan {
  method: 'software' | HwMethod;
  device?: string;
  /** The plan for a source of this codec: this one where the probe passed it, else software. */
  forCodec(codec: string | undefined): HwaccelPlan;
}

/** Frames leave hardware memory in the format the decoder gave them (8-bit nv12 or 10-bit p010). */
const DOWNLOAD = 'hwdownload,format=nv12|p010le';

function dim(n: number, what: string): number {
  if (!Number.isFinite(n) || n < 2 || n > 16384) throw new RangeError(`${what} must be 2 to 16384 pixels, got ${String(n)}`);
  return Math.round(n);
}

function checkBox(box: ScaleBox | undefined): ScaleBox | undefined {
  if (box === undefined) return undefined;
  const width = dim(box.width, 'width');
  return box.height === undefined ? { width } : { width, height: dim(box.height, 'height') };
}

/** Software scaling as the capture arguments have always done it. */
function softwareChain(box: ScaleBox | undefined, format: ChainFormat): string {
  if (format === 'gray') {
    // Luma only, averaged down (area): a third of the work of scaling all planes, and the averaging smooths sensor
    // noise before motion analysis. format=gray last keeps 8 bits when the source has 10.
    if (!box) return 'extractplanes=y,format=gray';
    if (box.height === undefined) return `extractplanes=y,scale=w=${box.width}:h=-2:flags=area,format=gray`;
    return `extractplanes=y,scale=w=${box.width}:h=${box.height}:force_original_aspect_ratio=decrease:flags=area,format=gray`;
  }
  if (!box) return 'null';
  if (box.height === undefined) return `scale=${box.width}:-2`;
  return `scale=w=${box.width}:h=${box.height}:force_original_aspect_ratio=decrease`;
}

/** A GPU scale to `width` (height by aspect ratio), in the scaler's own option syntax. */
function gpuScale(scaler: string, width: string): string {
  switch (scaler) {
    case 'scale_vaapi':
      // nv12 out: a 10-bit source is converted on the GPU, so what comes down is always 8-bit.
      return `scale_vaapi=w=${width}:h=-2:format=nv12`;
    case 'vpp_qsv':
      // Its height defaults to the width times the aspect ratio; it takes no -2.
      return `vpp_qsv=w=${width}`;
    default:
      return `${scaler}=w=${width}:h=-2`;
  }
}

function hardwareChain(scaler: string | undefined, box: ScaleBox | undefined, format: ChainFormat): string {
  if (!scaler || !box) return `${DOWNLOAD},${softwareChain(box, format)}`.replace(/,null$/, '');
  if (format === 'gray') {
    // The GPU takes the frame down to twice the box (never up), the CPU then averages the luma to the box exactly
    // as in software: the same smoothing motion detection was tuned on, at a sliver of the bytes downloaded.
    const prescale = gpuScale(scaler, `'min(iw,${box.width * 2})'`);
    return `${prescale},${DOWNLOAD},${softwareChain(box, 'gray')}`;
  }
  const scaled = `${gpuScale(scaler, String(box.width))},${DOWNLOAD}`;
  return box.height === undefined ? scaled : `${scaled},${softwareChain(box, 'yuv420p')}`;
}

export const SOFTWARE: HwaccelPlan = {
  method: 'software',
  label: 'software',
  inputArgs: [],
  scaleChain: (box, format) => softwareChain(checkBox(box), format),
  forCodec: () => SOFTWARE,
};

export function softwarePlan(): HwaccelPlan {
  return SOFTWARE;
}

export interface PlanOptions {
  device?: string;
  /** Filter names this binary has (`ffmpeg -filters`); decides whether the GPU scales. */
  filters?: readonly string[] | ReadonlySet<string>;
  /** Codecs the probe passed; others get the software plan from `forCodec`. Omitted: all. */
  codecs?: readonly TestCodec[];
}

function normaliseCodec(codec: string | undefined): TestCodec | undefined {
  const c = codec?.toLowerCase();
  if (c === 'h264' || c === 'avc' || c === 'avc1') return 'h264';
  if (c === 'hevc' || c === 'h265' || c === 'hvc1' || c === 'hev1') return 'hevc';
  return undefined;
}

function methodInputArgs(method: HwMethod, device: string | undefined, codec: TestCodec): string[] {
  const spec = METHODS[method];
  const args: string[] = [];
  if (spec.hwaccel) args.push('-hwaccel', spec.hwaccel);
  if (device && spec.deviceOption) args.push(spec.deviceOption, device);
  if (spec.outputFormat) args.push('-hwaccel_output_format', spec.outputFormat);
  if (spec.decoders) args.push('-c:v', spec.decoders[codec]);
  return args;
}

/** The plan for one method on one device. */
export function hardwarePlan(method: HwMethod, o: PlanOptions = {}): HwaccelPlan {
  const spec = METHODS[method];
  if (!spec) throw new RangeError(`Unknown hardware decoding method "${String(method)}"`);
  const device = o.device?.trim() || undefined;
  if (device?.startsWith('-')) throw new RangeError(`Device "${device}" must not start with "-"`);
  const filters = o.filters instanceof Set ? o.filters : new Set(o.filters ?? []);
  const scaler = spec.scalers.find((s) => filters.has(s));
  const passed = new Set<TestCodec>(o.codecs ?? ['h264', 'hevc']);
  // v4l2m2m decoders hand over ordinary frames: nothing to download.
  const chain = spec.outputFormat
    ? (box: ScaleBox | undefined, format: ChainFormat) => hardwareChain(scaler, checkBox(box), format)
    : (box: ScaleBox | undefined, format: ChainFormat) => softwareChain(checkBox(box), format);
  const label = device ? `${method} on ${device}` : method;
  const byCodec = new Map<TestCodec, HwaccelPlan>();
  const make = (codec: TestCodec): HwaccelPlan => {
    let plan = byCodec.get(codec);
    if (!plan) {
      plan = {
        method,
        device,
        label,
        inputArgs: methodInputArgs(method, device, codec),
        scaleChain: chain,
        // Unknown codec: the H.264 plan (cameras); a codec the probe did not pass or try: software.
        forCodec: (c) => {
          const n = c === undefined ? 'h264' : normaliseCodec(c);
          return n !== undefined && passed.has(n) ? make(n) : SOFTWARE;
        },
      };
      byCodec.set(codec, plan);
    }
    return plan;
  };
  return make('h264');
}

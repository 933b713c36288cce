import { buildRegionMask, type Region, type RegionMask } from './roi';

/**
 * Motion detection on small 8-bit gray frames.
 *
 * Per frame:
 *  1. Global light compensation: fit cur ~ gain * background + offset by least squares on a sparse
 *     sample grid (pixels that changed last frame left out), so lights, clouds and auto exposure move
 *     the prediction instead of firing.
 *  2. One pass over the region spans: |cur - prediction| against a per-pixel threshold that follows
 *     that pixel's own noise floor (max(pixelThreshold, noiseFactor * mean |diff|)), and the running
 *     background update (slower where the pixel changed, so a passing object does not burn in).
 *  3. Noise filter over the changed pixels only: a pixel counts when at least minNeighbours of its 8
 *     neighbours changed too, so isolated sensor noise never counts.
 *  4. When most of the processed area changed at once (an IR day/night switch, a lamp that the linear
 *     fit cannot explain) the background is re-seeded and the frame reports globalChange, not motion.
 *
 * All buffers are allocated per frame size; the steady state allocates nothing.
 */

export interface MotionOptions {
  /** Per-pixel difference threshold as a fraction of 255. */
  pixelThreshold: number;
  /** Changed pixels (after the noise filter, at the analysed size) for a region to report motion. */
  minArea: number;
  /** Per-pixel threshold is at least noiseFactor times that pixel's mean absolute difference. */
  noiseFactor: number;
  /** A changed pixel counts when at least this many of its 8 neighbours changed (0..8). */
  minNeighbours: number;
  /** Background running-average rate per frame (0..1). */
  backgroundRate: number;
  /** Noise floor running-average rate per frame (0..1). */
  noiseRate: number;
  /** Fraction of the processed area that, changing at once, counts as a global change (re-seed). */
  globalChange: number;
  /** Frames after a (re)start or size change during which the model learns and reports no motion. */
  learnFrames: number;
  regions: ReadonlyArray<Region>;
}

export const DEFAULT_MOTION_OPTIONS: Readonly<MotionOptions> = Object.freeze({
  pixelThreshold: 0.08,
  minArea: 80,
  noiseFactor: 3,
  minNeighbours: 3,
  backgroundRate: 0.05,
  noiseRate: 0.02,
  globalChange: 0.55,
  learnFrames: 8,
  regions: [],
});

export interface RegionResult {
  readonly name: string;
  motion: boolean;
  changedArea: number;
  /** changedArea / the region's processed area, 0..1. */
  score: number;
}

export interface BBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** One result object per detector, rewritten by every detect() call. Copy what you keep. */
export interface MotionResult {
  motion: boolean;
  changedArea: number;
  /** changedArea / processed area, 0..1. */
  score: number;
  /** Normalised bounding box of the counted pixels, when there are any. */
  bbox: BBox | null;
  regions: RegionResult[];
  globalChange: boolean;
  learning: boolean;
  /** The light compensation applied to the background for this frame. */
  gain: number;
  offset: number;
  width: number;
  height: number;
}

export class GrayFrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GrayFrameError';
  }
}

const NOISE_CAP_FACTOR = 3;
const SAMPLE_ROW_STEP = 2;
const CLIP_HIGH = 250;
const CLIP_LOW = 5;
const SAMPLE_COL_STEP = 3;

export class MotionDetector {
  private readonly opts: MotionOptions;
  private readonly thresh: number;
  private width = 0;
  private height = 0;
  private mask: RegionMask | null = null;
  private bg = new Float32Array(0);
  private noise = new Float32Array(0);
  /** Padded (width+2)x(height+2) changed map; only pixels listed in `changed` are ever non-zero. */
  private map = new Uint8Array(0);
  private changed = new Int32Array(0);
  private changedCount = 0;
  private samples = new Int32Array(0);
  private regionCount = new Int32Array(0);
  private regionMin = new Int32Array(0);
  private learnLeft = 0;
  private readonly bboxObj: BBox = { x: 0, y: 0, w: 0, h: 0 };
  readonly result: MotionResult;

  constructor(options: Partial<MotionOptions> = {}) {
    const o = { ...DEFAULT_MOTION_OPTIONS, ...stripUndefined(options) };
    o.pixelThreshold = clamp(o.pixelThreshold, 0.001, 1);
    o.minArea = Math.max(1, Math.round(o.minArea));
    o.noiseFactor = clamp(o.noiseFactor, 0, 50);
    o.minNeighbours = Math.round(clamp(o.minNeighbours, 0, 8));
    o.backgroundRate = clamp(o.backgroundRate, 0.0001, 1);
    o.noiseRate = clamp(o.noiseRate, 0.0001, 1);
    o.globalChange = clamp(o.globalChange, 0.05, 1.01);
    o.learnFrames = Math.max(1, Math.round(o.learnFrames));
    this.opts = o;
    this.thresh = o.pixelThreshold * 255;
    this.result = {
      motion: false, changedArea: 0, score: 0, bbox: null, regions: [], globalChange: false,
      learning: true, gain: 1, offset: 0, width: 0, height: 0,
    };
  }

  get options(): Readonly<MotionOptions> {
    return this.opts;
  }

  /** Forget the background (e.g. after the source restarted); the next frame seeds it. */
  reset(): void {
    this.width = 0;
    this.height = 0;
  }

  /**
   * Validates a gray frame's shape; throws GrayFrameError with a clear message. Separate from
   * detect() so callers can report bad input without touching the model.
   */
  static check(data: Uint8Array | undefined, width: number, height: number): void {
    if (!(data instanceof Uint8Array)) throw new GrayFrameError('gray frame: data is not a Buffer');
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 3 || height < 3 || width > 4096 || height > 4096) {
      throw new GrayFrameError(`gray frame: bad size ${width}x${height}`);
    }
    if (data.length !== width * height) {
      throw new GrayFrameError(`gray frame: ${data.length} bytes for ${width}x${height} (expected ${width * height}; truncated or wrong size)`);
    }
  }

  detect(data: Uint8Array, width: number, height: number): MotionResult {
    MotionDetector.check(data, width, height);
    if (width !== this.width || height !== this.height) {
      this.allocate(width, height);
      this.seed(data, true);
      return this.finishEmpty(true, false);
    }
    const mask = this.mask as RegionMask;
    const bg = this.bg;
    const noise = this.noise;
    const map = this.map;
    const changed = this.changed;

    // 1. Light compensation from the sample grid, skipping pixels that changed last frame.
    const samples = this.samples;
    const w = width;
    const wp = w + 2;
    let n = 0;
    let sb = 0;
    let sc = 0;
    let sbb = 0;
    let sbc = 0;
    for (let k = 0; k < samples.length; k++) {
      const i = samples[k];
      if (map[i + ((i / w) | 0) * 2 + wp + 1] !== 0) continue;
      const c = data[i];
      // Clipped pixels do not follow a linear light change.
      if (c >= CLIP_HIGH || c <= CLIP_LOW) continue;
      const b = bg[i];
      n++;
      sb += b;
      sc += c;
      sbb += b * b;
      sbc += b * c;
    }
    let gain = 1;
    let offset = 0;
    if (n > 16) {
      const mb = sb / n;
      const mc = sc / n;
      const vb = sbb / n - mb * mb;
      const cov = sbc / n - mb * mc;
      gain = vb > 16 ? clamp(cov / vb, 0.33, 3) : 1;
      offset = mc - gain * mb;
    }

    // Clear last frame's changed map entries (sparse, so the map is never swept).
    for (let k = 0; k < this.changedCount; k++) {
      const i = changed[k];
      map[i + ((i / w) | 0) * 2 + wp + 1] = 0;
    }

    // 2. Threshold + background/noise update over the spans.
    const T = this.thresh;
    const kN = this.opts.noiseFactor;
    const a = this.opts.backgroundRate;
    const aSlow = a * 0.1;
    const an = this.opts.noiseRate;
    const cap = T * NOISE_CAP_FACTOR;
    const spanStart = mask.spanStart;
    const spanEnd = mask.spanEnd;
    let nc = 0;
    for (let s = 0; s < mask.spanCount; s++) {
      const end = spanEnd[s];
      for (let i = spanStart[s]; i < end; i++) {
        const c = data[i];
        const b = bg[i];
        let pr = gain * b + offset;
        if (pr > 255) pr = 255;
        else if (pr < 0) pr = 0;
        let d = c - pr;
        if (d < 0) d = -d;
        const nz = noise[i];
        let t = kN * nz;
        if (t < T) t = T;
        noise[i] = nz + an * ((d < cap ? d : cap) - nz);
        if (d > t) {
          changed[nc++] = i;
          bg[i] = b + aSlow * (c - b);
        } else {
          bg[i] = b + a * (c - b);
        }
      }
    }
    this.changedCount = nc;
    for (let k = 0; k < nc; k++) {
      const i = changed[k];
      map[i + ((i / w) | 0) * 2 + wp + 1] = 1;
    }

    const r = this.result;
    r.gain = gain;
    r.offset = offset;
    if (nc > this.opts.globalChange * mask.activeArea) {
      // Keep the learned noise floor: the scene's noise did not change with the light.
      this.seed(data, false);
      return this.finishEmpty(false, true);
    }
    if (this.learnLeft > 0) {
      this.learnLeft--;
      return this.finishEmpty(false, false, this.learnLeft > 0);
    }

    // 3. Noise filter and counting over the changed pixels only.
    const minN = this.opts.minNeighbours;
    const bits = mask.regionBits;
    const rc = this.regionCount;
    rc.fill(0);
    let count = 0;
    let minX = w;
    let minY = height;
    let maxX = -1;
    let maxY = -1;
    for (let k = 0; k < nc; k++) {
      const i = changed[k];
      const y = (i / w) | 0;
      const p = i + y * 2 + wp + 1;
      const nb = map[p - wp - 1] + map[p - wp] + map[p - wp + 1] + map[p - 1] + map[p + 1] + map[p + wp - 1] + map[p + wp] + map[p + wp + 1];
      if (nb < minN) continue;
      count++;
      const x = i - y * w;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
      let rb = bits[i];
      while (rb !== 0) {
        rc[31 - Math.clz32(rb & -rb)]++;
        rb &= rb - 1;
      }
    }
    let any = false;
    const regionArea = mask.regionArea;
    for (let k = 0; k < r.regions.length; k++) {
      const rr = r.regions[k];
      rr.changedArea = rc[k];
      rr.score = regionArea[k] > 0 ? rc[k] / regionArea[k] : 0;
      rr.motion = rc[k] >= this.regionMin[k] && regionArea[k] > 0;
      if (rr.motion) any = true;
    }
    r.motion = any;
    r.changedArea = count;
    r.score = mask.activeArea > 0 ? count / mask.activeArea : 0;
    r.globalChange = false;
    r.learning = false;
    if (count > 0) {
      const bb = this.bboxObj;
      bb.x = minX / w;
      bb.y = minY / height;
      bb.w = (maxX + 1 - minX) / w;
      bb.h = (maxY + 1 - minY) / height;
      r.bbox = bb;
    } else {
      r.bbox = null;
    }
    return r;
  }

  private allocate(width: number, height: number): void {
    const size = width * height;
    const mask = buildRegionMask(this.opts.regions, width, height);
    this.mask = mask;
    this.width = width;
    this.height = height;
    this.bg = new Float32Array(size);
    this.noise = new Float32Array(size);
    this.map = new Uint8Array((width + 2) * (height + 2));
    this.changed = new Int32Array(size);
    this.changedCount = 0;
    const samples: number[] = [];
    for (let s = 0; s < mask.spanCount; s++) {
      const start = mask.spanStart[s];
      const y = (start / width) | 0;
      if (y % SAMPLE_ROW_STEP !== 0) continue;
      for (let i = start + ((y / SAMPLE_ROW_STEP) % SAMPLE_COL_STEP); i < mask.spanEnd[s]; i += SAMPLE_COL_STEP) samples.push(i);
    }
    this.samples = Int32Array.from(samples);
    const nr = mask.includes.length;
    this.regionCount = new Int32Array(nr);
    // A region smaller than four times minArea could hardly ever report: cap its need at a quarter of its area.
    this.regionMin = Int32Array.from(mask.includes.map((reg, k) =>
      Math.max(1, Math.min(reg.minArea ?? this.opts.minArea, Math.floor(mask.regionArea[k] / 4)))));
    this.result.regions = mask.includes.map((reg) => ({ name: reg.name, motion: false, changedArea: 0, score: 0 }));
    this.result.width = width;
    this.result.height = height;
  }

  /** Processed area and empty regions of the current size, for diagnostics. */
  get regionMask(): RegionMask | null {
    return this.mask;
  }

  private seed(data: Uint8Array, resetNoise: boolean): void {
    const bg = this.bg;
    const noise = this.noise;
    // Start at the floor so the threshold starts at pixelThreshold.
    const n0 = this.opts.noiseFactor > 0 ? this.thresh / this.opts.noiseFactor / 2 : 0;
    for (let i = 0; i < bg.length; i++) bg[i] = data[i];
    if (resetNoise) noise.fill(n0);
    const map = this.map;
    const changed = this.changed;
    const wp = this.width + 2;
    for (let k = 0; k < this.changedCount; k++) {
      const i = changed[k];
      map[i + ((i / this.width) | 0) * 2 + wp + 1] = 0;
    }
    this.changedCount = 0;
    this.learnLeft = this.opts.learnFrames;
  }

  private finishEmpty(sizeChanged: boolean, globalChange: boolean, learning = true): MotionResult {
    const r = this.result;
    r.motion = false;
    r.changedArea = 0;
    r.score = 0;
    r.bbox = null;
    r.globalChange = globalChange;
    r.learning = learning || sizeChanged;
    for (const rr of r.regions) {
      rr.motion = false;
      rr.changedArea = 0;
      rr.score = 0;
    }
    return r;
  }
}

function clamp(v: number, lo: number, hi: number): number {
  if (!Number.isFinite(v)) return lo;
  return v < lo ? lo : v > hi ? hi : v;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

import { createMotionKernel, type MotionKernel } from './kernel';
import { buildRegionMask, type Region, type RegionMask } from './roi';
import { definedOnly } from '../util/defined';

/**
 * Motion detection on small 8-bit gray frames.
 *
 * Per frame:
 *  1. Light compensation: a brightness transfer table (background level -> expected current level),
 *     fitted per 8-level bin on a sparse sample grid (pixels that changed last frame left out), so
 *     lights, clouds, gamma and auto-exposure changes move the prediction instead of firing.
 *  2. Detection over the region spans: |cur - prediction| > the pixel's own threshold
 *     (max(pixelThreshold, noiseFactor * that pixel's mean |difference|)). In the steady state the
 *     table is the identity and the test runs sixteen pixels per WebAssembly SIMD step; only the
 *     changed pixels' indices come out.
 *  3. Noise filter over the changed pixels only: a pixel counts when at least minNeighbours of its 8
 *     neighbours changed too, so isolated sensor noise never counts.
 *  4. When most of the processed area changed at once (an IR day/night switch, a change the table
 *     cannot explain) the background is re-seeded and the frame reports globalChange, not motion.
 *  5. Background and noise floor (float, running averages) are updated on every updateInterval-th
 *     row per frame, rotating, with rates scaled to match; slower where the pixel changed, so a
 *     passing object does not burn in. Their 8-bit copies feed step 2.
 *
 * The steady-state loops (step 2, the first fitting round of step 1, step 5) run in a WebAssembly
 * kernel (motion-kernel.wat) and compute exactly what their JavaScript form did; the rarer paths
 * (light table active) stay in JavaScript on the same buffers, which live in the kernel's memory.
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
  /** Fraction of the frame (sampled, exclude areas left out) that, changing at once, counts as a global change (re-seed). */
  globalChange: number;
  /** Frames after a (re)start or size change during which the model learns and reports no motion. */
  learnFrames: number;
  /** The background is updated on one row in this many per frame (rotating); 1 = every row every frame. */
  updateInterval: number;
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
  updateInterval: 8,
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
const SAMPLE_ROW_STEP = 4;
const SAMPLE_COL_STEP = 4;
/** A fitted light table whose mean |offset| exceeds this many thresholds is a global change. */
const GLOBAL_TABLE_FACTOR = 1.5;
const BIN_SHIFT = 3;
const BINS = 256 >> BIN_SHIFT;
const MIN_BIN_SAMPLES = 24;
/** Table entries further than this from the identity switch detection to the per-pixel table path. */
const IDENTITY_TOLERANCE = 2;
/** Threshold of pixels outside every region: |difference| can never exceed it. */
const INACTIVE = 255;

export class MotionDetector {
  private readonly opts: MotionOptions;
  private readonly thresh: number;
  private width = 0;
  private height = 0;
  private mask: RegionMask | null = null;
  private readonly kernel: MotionKernel = createMotionKernel();
  /** Byte offsets of the buffers in the kernel's memory (see allocate()). */
  private readonly at = { changedPad: 0, regionBits: 0, regionCount: 0, box: 0, lut: 0, cur: 0, bg8: 0, thr: 0, bgF: 0, noise: 0, map: 0, changed: 0, blocks: 0, samples: 0, samplesPad: 0, bins: 0, outside: 0, rowSpan: 0, spanStart: 0, spanEnd: 0 };
  /** Merged [start, end) byte ranges of 16-pixel blocks covering the spans. */
  private blockCount = 0;
  /** The kernel's memory has held buffers (is not all zeros). */
  private used = false;
  /** The frame, copied into the kernel's memory. */
  private cur = new Uint8Array(0);
  private bgF = new Float32Array(0);
  private bg8 = new Uint8Array(0);
  private noise = new Float32Array(0);
  /** Thresholds, padded to whole 16-pixel blocks with INACTIVE. */
  private thr8 = new Uint8Array(0);
  /** Per-bin sums from the kernel: (cur, background, count, 0) per bin. */
  private bins = new Int32Array(0);
  /** Span index range per row, for the rotating background update. */
  private rowSpan = new Int32Array(0);
  /** Padded (width+2)x(height+2) changed map; only pixels listed in `changed` are ever non-zero. */
  private map = new Uint8Array(0);
  private changed = new Int32Array(0);
  private changedCount = 0;
  private samples = new Int32Array(0);
  /** Samples outside every region (at.outside in the kernel): their background is kept for light estimation only. */
  private outsideCount = 0;
  /** The samples' indices in the padded changed map. */
  private samplesPad = new Int32Array(0);
  private readonly binSum = new Float64Array(BINS);
  private readonly binBg = new Float64Array(BINS);
  private readonly binN = new Int32Array(BINS);
  private readonly binOff = new Float64Array(BINS);
  /** Brightness transfer table (background level -> predicted level), in the kernel's memory. */
  private lut = new Uint8Array(256);
  /** Samples of the first fitting round within the threshold of the background. */
  private identityInliers = 0;
  private sampled = 0;
  /** Per include region counted pixels, and the counted pixels' minX, minY, maxX, maxY, from the kernel. */
  private regionCount = new Int32Array(0);
  private box = new Int32Array(4);
  private regionMin = new Int32Array(0);
  private learnLeft = 0;
  private phase = 0;
  /** This frame's prediction goes through the light table (not the identity). */
  private tableActive = false;
  private readonly bboxObj: BBox = { x: 0, y: 0, w: 0, h: 0 };
  readonly result: MotionResult;

  constructor(options: Partial<MotionOptions> = {}) {
    const o = { ...DEFAULT_MOTION_OPTIONS, ...definedOnly(options) };
    o.pixelThreshold = clamp(o.pixelThreshold, 0.001, 0.99);
    o.minArea = Math.max(1, Math.round(o.minArea));
    o.noiseFactor = clamp(o.noiseFactor, 0, 50);
    o.minNeighbours = Math.round(clamp(o.minNeighbours, 0, 8));
    o.backgroundRate = clamp(o.backgroundRate, 0.0001, 1);
    o.noiseRate = clamp(o.noiseRate, 0.0001, 1);
    o.globalChange = clamp(o.globalChange, 0.05, 1.01);
    o.learnFrames = Math.max(1, Math.round(o.learnFrames));
    o.updateInterval = Math.round(clamp(o.updateInterval, 1, 16));
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

  /** Processed area and empty regions of the current size, for diagnostics. */
  get regionMask(): RegionMask | null {
    return this.mask;
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
      this.cur.set(data);
      this.seed(true);
      return this.finishEmpty(false, true);
    }
    this.cur.set(data);
    const light = this.fitLight();
    if (light === 'global') {
      // Keep the learned noise floor: the scene's noise did not change with the light.
      this.seed(false);
      return this.finishEmpty(true, false);
    }
    this.tableActive = light === 'table';
    this.clearMap();
    this.changedCount = light === 'identity' ? this.detectIdentity() : this.detectTable();
    this.markMap();
    this.updateBackground();
    if (this.learnLeft > 0) {
      this.learnLeft--;
      return this.finishEmpty(false, this.learnLeft > 0);
    }
    return this.count();
  }

  /**
   * Fits the brightness transfer table in two rounds: the second keeps only samples within the
   * threshold of the first fit or of the identity, whichever explains more samples, so an object
   * entering the scene does not bend the table.
   * Returns 'identity', 'table', or 'global' when the light changed so much that the background
   * must be re-seeded (a table fitted on a half-adapted background would be wrong).
   */
  private fitLight(): 'identity' | 'table' | 'global' {
    const r = this.result;
    r.gain = 1;
    r.offset = 0;
    if (!this.accumulate(false)) return 'identity';
    const total = this.sampled;
    let inliers = this.identityInliers;
    let table = false;
    if (this.tableDeviation() > IDENTITY_TOLERANCE) {
      // Not the identity: refit on inliers, of the first fit or of the identity, whichever explains
      // more samples (an object entering the scene must not bend the table).
      this.buildTable();
      if (this.identityInliers >= this.countInliers()) for (let v = 0; v < 256; v++) this.lut[v] = v;
      if (!this.accumulate(true)) return 'global';
      let dev = 0;
      let n = 0;
      let far = false;
      let tb = 0;
      let tc = 0;
      const off = this.binOff;
      const cnt = this.binN;
      for (let k = 0; k < BINS; k++) {
        if (cnt[k] < MIN_BIN_SAMPLES) continue;
        const o = off[k] < 0 ? -off[k] : off[k];
        // A bin far off alone is not noise: a light on one tone range only (e.g. a lamp's glow).
        if (o > this.thresh / 2) far = true;
        dev += o * cnt[k];
        n += cnt[k];
        tb += this.binBg[k];
        tc += this.binSum[k];
      }
      r.offset = n > 0 ? (tc - tb) / n : 0;
      r.gain = tb > 0 ? tc / tb : 1;
      // A table this far from the identity would be wrong on a half-adapted background: re-seed.
      if (dev / n > this.thresh * GLOBAL_TABLE_FACTOR) return 'global';
      // Bins are chosen by background level, so noise biases sparse bins (regression to the mean);
      // the weighted mean offset is the steady-state test.
      if (far || dev / n > IDENTITY_TOLERANCE) {
        this.buildTable();
        table = true;
        inliers = this.countInliers();
      }
    }
    // Most of the frame unexplained by the prediction: an IR switch, a camera moved, a lamp the
    // table cannot model. Judged on the whole-frame samples, not the regions, which an object can fill.
    if (total - inliers > this.opts.globalChange * total) return 'global';
    return table ? 'table' : 'identity';
  }

  /**
   * Per-bin sums of background and current levels over the sample grid, leaving out pixels that
   * changed last frame and, with `inliers`, samples further than the threshold from the table.
   * Fills binOff (interpolated over empty bins); false when no bin has enough samples.
   */
  private accumulate(inliers: boolean): boolean {
    if (inliers) this.accumulateInliers();
    else this.accumulateAll();
    const sum = this.binSum;
    const sbg = this.binBg;
    const cnt = this.binN;
    const off = this.binOff;
    let last = -1;
    for (let k = 0; k < BINS; k++) {
      if (cnt[k] < MIN_BIN_SAMPLES) continue;
      off[k] = (sum[k] - sbg[k]) / cnt[k];
      // Bins without enough samples take the value of the nearest bins that have them.
      if (last < 0) for (let j = 0; j < k; j++) off[j] = off[k];
      else for (let j = last + 1; j < k; j++) off[j] = off[last] + ((off[k] - off[last]) * (j - last)) / (k - last);
      last = k;
    }
    if (last < 0) return false;
    for (let j = last + 1; j < BINS; j++) off[j] = off[last];
    return true;
  }

  /** First round, every frame: in the kernel (integer sums; |d| <= T is |d| <= floor(T) for integers). */
  private accumulateAll(): void {
    const at = this.at;
    this.identityInliers = this.kernel.accumulate(at.samples, at.samplesPad, this.samples.length, at.cur, at.bg8, at.map,
      Math.floor(this.thresh), at.bins);
    this.copyBins();
    let n = 0;
    for (let k = 0; k < BINS; k++) n += this.binN[k];
    this.sampled = n;
  }

  private copyBins(): void {
    const bins = this.bins;
    for (let k = 0; k < BINS; k++) {
      this.binSum[k] = bins[4 * k];
      this.binBg[k] = bins[4 * k + 1];
      this.binN[k] = bins[4 * k + 2];
    }
  }

  /** Refit round (light changing only): samples within the threshold of the current table. */
  private accumulateInliers(): void {
    const at = this.at;
    this.kernel.inliers(at.samples, at.samplesPad, this.samples.length, at.cur, at.bg8, at.map, at.lut, Math.floor(this.thresh), at.bins, 1);
    this.copyBins();
  }

  /** Samples (not changed last frame) within the threshold of the current table. */
  private countInliers(): number {
    const at = this.at;
    return this.kernel.inliers(at.samples, at.samplesPad, this.samples.length, at.cur, at.bg8, at.map, at.lut, Math.floor(this.thresh), at.bins, 0);
  }

  /** Largest |offset| among the bins that had enough samples. */
  private tableDeviation(): number {
    let m = 0;
    for (let k = 0; k < BINS; k++) {
      if (this.binN[k] < MIN_BIN_SAMPLES) continue;
      const o = this.binOff[k] < 0 ? -this.binOff[k] : this.binOff[k];
      if (o > m) m = o;
    }
    return m;
  }

  private buildTable(): void {
    const off = this.binOff;
    const lut = this.lut;
    const half = 1 << (BIN_SHIFT - 1);
    for (let v = 0; v < 256; v++) {
      // Interpolate the offset between bin centres.
      const pos = (v - half) / (1 << BIN_SHIFT);
      const k0 = pos <= 0 ? 0 : Math.min(BINS - 1, Math.floor(pos));
      const k1 = Math.min(BINS - 1, k0 + 1);
      const f = pos <= 0 ? 0 : Math.min(1, pos - k0);
      const e = v + off[k0] + (off[k1] - off[k0]) * f;
      lut[v] = e < 0 ? 0 : e > 255 ? 255 : Math.round(e);
    }
  }

  /** Steady state: prediction = background, sixteen pixels per step in the kernel. */
  private detectIdentity(): number {
    const at = this.at;
    return this.kernel.detect(at.blocks, this.blockCount, at.cur, at.bg8, at.thr, at.changed);
  }

  /** During a light change: prediction = table[background], per pixel. */
  private detectTable(): number {
    const cur = this.cur;
    const bg8 = this.bg8;
    const thr8 = this.thr8;
    const lut = this.lut;
    const changed = this.changed;
    const mask = this.mask as RegionMask;
    const ss = mask.spanStart;
    const se = mask.spanEnd;
    let nc = 0;
    for (let s = 0; s < mask.spanCount; s++) {
      const end = se[s];
      for (let i = ss[s]; i < end; i++) {
        const d = cur[i] - lut[bg8[i]];
        if (d > thr8[i] || -d > thr8[i]) changed[nc++] = i;
      }
    }
    return nc;
  }

  private clearMap(): void {
    this.kernel.clear(this.at.changedPad, this.changedCount, this.at.map);
    this.changedCount = 0;
  }

  private markMap(): void {
    const at = this.at;
    this.kernel.mark(at.changed, at.changedPad, this.changedCount, at.map, this.width);
  }

  /** Running averages on this frame's share of rows (rotating), with the rates scaled to match. */
  private updateBackground(): void {
    const U = this.opts.updateInterval;
    const a = 1 - Math.pow(1 - this.opts.backgroundRate, U);
    const aSlow = 1 - Math.pow(1 - this.opts.backgroundRate * 0.1, U);
    const an = 1 - Math.pow(1 - this.opts.noiseRate, U);
    const T = this.thresh;
    const kN = this.opts.noiseFactor;
    const cap = T * NOISE_CAP_FACTOR;
    if (!this.tableActive) {
      const at = this.at;
      this.kernel.update(this.phase, U, this.height, this.width, at.rowSpan, at.spanStart, at.spanEnd,
        at.cur, at.bg8, at.bgF, at.noise, at.thr, at.map, a, aSlow, an, cap, kN, T);
    } else {
      this.updateTable(U, a, aSlow, an, cap, kN, T);
    }
    if (this.outsideCount > 0) {
      const at = this.at;
      this.kernel.outside(at.outside, this.outsideCount, at.cur, at.bg8, at.bgF, this.opts.backgroundRate);
    }
    this.phase = (this.phase + 1) % U;
  }

  /** The rotating update while the light table is active: the prediction is lut[background]. */
  private updateTable(U: number, a: number, aSlow: number, an: number, cap: number, kN: number, T: number): void {
    const lut = this.lut;
    const cur = this.cur;
    const bgF = this.bgF;
    const bg8 = this.bg8;
    const noise = this.noise;
    const thr8 = this.thr8;
    const map = this.map;
    const mask = this.mask as RegionMask;
    const ss = mask.spanStart;
    const se = mask.spanEnd;
    const rowSpan = this.rowSpan;
    const w = this.width;
    const wp = w + 2;
    for (let y = this.phase; y < this.height; y += U) {
      const pad = y * 2 + wp + 1;
      for (let s = rowSpan[y]; s < rowSpan[y + 1]; s++) {
        const end = se[s];
        for (let i = ss[s]; i < end; i++) {
          const c = cur[i];
          const b8 = bg8[i];
          let d = c - lut[b8];
          if (d < 0) d = -d;
          const nz = noise[i] + an * ((d < cap ? d : cap) - noise[i]);
          noise[i] = nz;
          const b = bgF[i];
          const nb = b + (map[i + pad] !== 0 ? aSlow : a) * (c - b);
          bgF[i] = nb;
          bg8[i] = (nb + 0.5) | 0;
          let t = kN * nz;
          if (t < T) t = T;
          thr8[i] = t < INACTIVE - 1 ? t | 0 : INACTIVE - 1;
        }
      }
    }
  }

  private count(): MotionResult {
    const mask = this.mask as RegionMask;
    const at = this.at;
    const w = this.width;
    const height = this.height;
    const rc = this.regionCount;
    rc.fill(0);
    const count = this.kernel.count(at.changed, at.changedPad, this.changedCount, at.map, w, height, this.opts.minNeighbours,
      at.regionBits, at.regionCount, at.box);
    const box = this.box;
    const minX = box[0];
    const minY = box[1];
    const maxX = box[2];
    const maxY = box[3];
    const r = this.result;
    let any = false;
    const regionArea = mask.regionArea;
    for (let k = 0; k < r.regions.length; k++) {
      const rr = r.regions[k];
      rr.changedArea = rc[k];
      rr.score = regionArea[k] > 0 ? rc[k] / regionArea[k] : 0;
      rr.motion = regionArea[k] > 0 && rc[k] >= this.regionMin[k];
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
    this.changedCount = 0;
    this.phase = 0;
    const blocks: number[] = [];
    for (let s = 0; s < mask.spanCount; s++) {
      const a = mask.spanStart[s] & ~15;
      const b = (mask.spanEnd[s] + 15) & ~15;
      if (blocks.length > 0 && a <= blocks[blocks.length - 1]) blocks[blocks.length - 1] = Math.max(blocks[blocks.length - 1], b);
      else blocks.push(a, b);
    }
    const rowSpan = new Int32Array(height + 1);
    let s = 0;
    for (let y = 0; y <= height; y++) {
      while (s < mask.spanCount && mask.spanStart[s] < y * width) s++;
      rowSpan[y] = s;
    }
    // Light is sampled over the whole frame except exclude areas, not only the regions: a small
    // region filled by an object would otherwise look like a light change.
    const samples: number[] = [];
    const outside: number[] = [];
    for (let y = 0; y < height; y += SAMPLE_ROW_STEP) {
      for (let x = (y / SAMPLE_ROW_STEP) % SAMPLE_COL_STEP; x < width; x += SAMPLE_COL_STEP) {
        const i = y * width + x;
        if (mask.excluded[i] !== 0) continue;
        samples.push(i);
        if (mask.regionBits[i] === 0) outside.push(i);
      }
    }
    this.outsideCount = outside.length;

    // Kernel memory: 16-byte aligned buffers; the byte buffers padded to whole 16-pixel blocks.
    const at = this.at;
    const size16 = (size + 15) & ~15;
    let top = 0;
    const take = (bytes: number): number => {
      const p = top;
      top = (top + bytes + 15) & ~15;
      return p;
    };
    at.lut = take(256);
    at.cur = take(size16);
    at.bg8 = take(size16);
    at.thr = take(size16);
    at.bgF = take(4 * size);
    at.noise = take(4 * size);
    at.map = take((width + 2) * (height + 2));
    at.changed = take(4 * size);
    at.changedPad = take(4 * size);
    at.regionBits = take(4 * size);
    at.regionCount = take(4 * 32);
    at.box = take(16);
    at.blocks = take(4 * blocks.length);
    at.samples = take(4 * samples.length);
    at.samplesPad = take(4 * samples.length);
    at.bins = take(4 * 4 * BINS);
    at.outside = take(4 * outside.length);
    at.rowSpan = take(4 * (height + 1));
    at.spanStart = take(4 * mask.spanCount);
    at.spanEnd = take(4 * mask.spanCount);
    const memory = this.kernel.memory;
    if (top > memory.buffer.byteLength) memory.grow(Math.ceil((top - memory.buffer.byteLength) / 65536));
    const buf = memory.buffer;
    // A new instance's memory is all zeros; a size change reuses it.
    if (this.used) new Uint8Array(buf, 0, top).fill(0);
    this.used = true;
    this.lut = new Uint8Array(buf, at.lut, 256);
    this.cur = new Uint8Array(buf, at.cur, size);
    this.bg8 = new Uint8Array(buf, at.bg8, size);
    this.thr8 = new Uint8Array(buf, at.thr, size16);
    this.bgF = new Float32Array(buf, at.bgF, size);
    this.noise = new Float32Array(buf, at.noise, size);
    this.map = new Uint8Array(buf, at.map, (width + 2) * (height + 2));
    this.changed = new Int32Array(buf, at.changed, size);
    new Uint32Array(buf, at.regionBits, size).set(mask.regionBits);
    this.regionCount = new Int32Array(buf, at.regionCount, mask.includes.length);
    this.box = new Int32Array(buf, at.box, 4);
    this.blockCount = blocks.length >> 1;
    new Int32Array(buf, at.blocks, blocks.length).set(blocks);
    this.samples = new Int32Array(buf, at.samples, samples.length);
    this.samples.set(samples);
    this.samplesPad = new Int32Array(buf, at.samplesPad, samples.length);
    for (let k = 0; k < samples.length; k++) this.samplesPad[k] = samples[k] + ((samples[k] / width) | 0) * 2 + width + 3;
    this.bins = new Int32Array(buf, at.bins, 4 * BINS);
    new Int32Array(buf, at.outside, outside.length).set(outside);
    this.rowSpan = new Int32Array(buf, at.rowSpan, height + 1);
    this.rowSpan.set(rowSpan);
    new Int32Array(buf, at.spanStart, mask.spanCount).set(mask.spanStart.subarray(0, mask.spanCount));
    new Int32Array(buf, at.spanEnd, mask.spanCount).set(mask.spanEnd.subarray(0, mask.spanCount));
    // A region smaller than four times minArea could hardly ever report: cap its need at a quarter of its area.
    this.regionMin = Int32Array.from(mask.includes.map((reg, k) =>
      Math.max(1, Math.min(reg.minArea ?? this.opts.minArea, Math.floor(mask.regionArea[k] / 4)))));
    this.result.regions = mask.includes.map((reg) => ({ name: reg.name, motion: false, changedArea: 0, score: 0 }));
    this.result.width = width;
    this.result.height = height;
  }

  /** Background := current frame; thresholds from the noise floor; inactive pixels can never fire. */
  private seed(resetNoise: boolean): void {
    const T = this.thresh;
    const kN = this.opts.noiseFactor;
    // Start at half the floor so the threshold starts at pixelThreshold and the floor is learned upwards.
    if (resetNoise) this.noise.fill(kN > 0 ? T / kN / 2 : 0);
    this.bg8.set(this.cur);
    this.thr8.fill(INACTIVE);
    const at = this.at;
    const mask = this.mask as RegionMask;
    this.kernel.seed(at.cur, at.bgF, this.bgF.length, at.spanStart, at.spanEnd, mask.spanCount, at.noise, at.thr, kN, T);
    this.clearMap();
    this.learnLeft = this.opts.learnFrames;
  }

  private finishEmpty(globalChange: boolean, learning: boolean): MotionResult {
    const r = this.result;
    r.motion = false;
    r.changedArea = 0;
    r.score = 0;
    r.bbox = null;
    r.globalChange = globalChange;
    r.learning = learning;
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


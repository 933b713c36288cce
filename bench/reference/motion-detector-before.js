'use strict';
// The motion detector as it was before the WebAssembly kernel (commit 5ebaeed, tsc output of
// src/core/motion/detector.ts), kept only as a reference: bench/motion.js times it as "ours (before)"
// and test/unit/motion-kernel.test.js checks the new detector gives the same result on every frame.
Object.defineProperty(exports, "__esModule", { value: true });
exports.MotionDetector = exports.GrayFrameError = exports.DEFAULT_MOTION_OPTIONS = void 0;
const roi_1 = require("../../dist/core/motion/roi.js");
exports.DEFAULT_MOTION_OPTIONS = Object.freeze({
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
class GrayFrameError extends Error {
    constructor(message) {
        super(message);
        this.name = 'GrayFrameError';
    }
}
exports.GrayFrameError = GrayFrameError;
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
class MotionDetector {
    opts;
    thresh;
    width = 0;
    height = 0;
    mask = null;
    /** The frame, copied so it can be read as 32-bit words whatever the input's alignment. */
    cur = new Uint8Array(0);
    cur32 = new Int32Array(0);
    bgF = new Float32Array(0);
    bg8 = new Uint8Array(0);
    bg32 = new Int32Array(0);
    noise = new Float32Array(0);
    thr8 = new Uint8Array(0);
    thr32 = new Int32Array(0);
    /** Word ranges [wordStart, wordEnd) covering the spans, merged where spans share a word. */
    wordStart = new Int32Array(0);
    wordEnd = new Int32Array(0);
    /** Span index range per row, for the rotating background update. */
    rowSpan = new Int32Array(0);
    /** Padded (width+2)x(height+2) changed map; only pixels listed in `changed` are ever non-zero. */
    map = new Uint8Array(0);
    changed = new Int32Array(0);
    changedCount = 0;
    samples = new Int32Array(0);
    /** Samples outside every region: their background is kept for light estimation only. */
    outsideSamples = new Int32Array(0);
    /** The samples' indices in the padded changed map. */
    samplesPad = new Int32Array(0);
    binSum = new Float64Array(BINS);
    binBg = new Float64Array(BINS);
    binN = new Int32Array(BINS);
    binOff = new Float64Array(BINS);
    lut = new Uint8Array(256);
    /** Samples of the first fitting round within the threshold of the background. */
    identityInliers = 0;
    sampled = 0;
    regionCount = new Int32Array(0);
    regionMin = new Int32Array(0);
    learnLeft = 0;
    phase = 0;
    /** This frame's prediction goes through the light table (not the identity). */
    tableActive = false;
    bboxObj = { x: 0, y: 0, w: 0, h: 0 };
    result;
    constructor(options = {}) {
        const o = { ...exports.DEFAULT_MOTION_OPTIONS, ...stripUndefined(options) };
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
    get options() {
        return this.opts;
    }
    /** Processed area and empty regions of the current size, for diagnostics. */
    get regionMask() {
        return this.mask;
    }
    /** Forget the background (e.g. after the source restarted); the next frame seeds it. */
    reset() {
        this.width = 0;
        this.height = 0;
    }
    /**
     * Validates a gray frame's shape; throws GrayFrameError with a clear message. Separate from
     * detect() so callers can report bad input without touching the model.
     */
    static check(data, width, height) {
        if (!(data instanceof Uint8Array))
            throw new GrayFrameError('gray frame: data is not a Buffer');
        if (!Number.isInteger(width) || !Number.isInteger(height) || width < 3 || height < 3 || width > 4096 || height > 4096) {
            throw new GrayFrameError(`gray frame: bad size ${width}x${height}`);
        }
        if (data.length !== width * height) {
            throw new GrayFrameError(`gray frame: ${data.length} bytes for ${width}x${height} (expected ${width * height}; truncated or wrong size)`);
        }
    }
    detect(data, width, height) {
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
    fitLight() {
        const r = this.result;
        r.gain = 1;
        r.offset = 0;
        if (!this.accumulate(false))
            return 'identity';
        const total = this.sampled;
        let inliers = this.identityInliers;
        let table = false;
        if (this.tableDeviation() > IDENTITY_TOLERANCE) {
            // Not the identity: refit on inliers, of the first fit or of the identity, whichever explains
            // more samples (an object entering the scene must not bend the table).
            this.buildTable();
            if (this.identityInliers >= this.countInliers())
                for (let v = 0; v < 256; v++)
                    this.lut[v] = v;
            if (!this.accumulate(true))
                return 'global';
            let dev = 0;
            let n = 0;
            let far = false;
            let tb = 0;
            let tc = 0;
            const off = this.binOff;
            const cnt = this.binN;
            for (let k = 0; k < BINS; k++) {
                if (cnt[k] < MIN_BIN_SAMPLES)
                    continue;
                const o = off[k] < 0 ? -off[k] : off[k];
                // A bin far off alone is not noise: a light on one tone range only (e.g. a lamp's glow).
                if (o > this.thresh / 2)
                    far = true;
                dev += o * cnt[k];
                n += cnt[k];
                tb += this.binBg[k];
                tc += this.binSum[k];
            }
            r.offset = n > 0 ? (tc - tb) / n : 0;
            r.gain = tb > 0 ? tc / tb : 1;
            // A table this far from the identity would be wrong on a half-adapted background: re-seed.
            if (dev / n > this.thresh * GLOBAL_TABLE_FACTOR)
                return 'global';
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
        if (total - inliers > this.opts.globalChange * total)
            return 'global';
        return table ? 'table' : 'identity';
    }
    /**
     * Per-bin sums of background and current levels over the sample grid, leaving out pixels that
     * changed last frame and, with `inliers`, samples further than the threshold from the table.
     * Fills binOff (interpolated over empty bins); false when no bin has enough samples.
     */
    accumulate(inliers) {
        const samples = this.samples;
        const samplesPad = this.samplesPad;
        const cur = this.cur;
        const bg8 = this.bg8;
        const map = this.map;
        const lut = this.lut;
        const T = this.thresh;
        const sum = this.binSum;
        const sbg = this.binBg;
        const cnt = this.binN;
        sum.fill(0);
        sbg.fill(0);
        cnt.fill(0);
        let near = 0;
        let n = 0;
        for (let k = 0; k < samples.length; k++) {
            if (map[samplesPad[k]] !== 0)
                continue;
            const i = samples[k];
            const b = bg8[i];
            const c = cur[i];
            if (inliers) {
                const d = c - lut[b];
                if (d > T || -d > T)
                    continue;
            }
            else if (c - b <= T && b - c <= T) {
                near++;
            }
            const bin = b >> BIN_SHIFT;
            sum[bin] += c;
            sbg[bin] += b;
            cnt[bin]++;
            n++;
        }
        if (!inliers)
            this.identityInliers = near;
        const off = this.binOff;
        let last = -1;
        for (let k = 0; k < BINS; k++) {
            if (cnt[k] < MIN_BIN_SAMPLES)
                continue;
            off[k] = (sum[k] - sbg[k]) / cnt[k];
            // Bins without enough samples take the value of the nearest bins that have them.
            if (last < 0)
                for (let j = 0; j < k; j++)
                    off[j] = off[k];
            else
                for (let j = last + 1; j < k; j++)
                    off[j] = off[last] + ((off[k] - off[last]) * (j - last)) / (k - last);
            last = k;
        }
        if (last < 0)
            return false;
        for (let j = last + 1; j < BINS; j++)
            off[j] = off[last];
        return true;
    }
    /** Samples (not changed last frame) within the threshold of the current table. */
    countInliers() {
        const samples = this.samples;
        const samplesPad = this.samplesPad;
        const cur = this.cur;
        const bg8 = this.bg8;
        const map = this.map;
        const lut = this.lut;
        const T = this.thresh;
        let n = 0;
        for (let k = 0; k < samples.length; k++) {
            if (map[samplesPad[k]] !== 0)
                continue;
            const i = samples[k];
            const d = cur[i] - lut[bg8[i]];
            if (d <= T && -d <= T)
                n++;
        }
        return n;
    }
    /** Largest |offset| among the bins that had enough samples. */
    tableDeviation() {
        let m = 0;
        for (let k = 0; k < BINS; k++) {
            if (this.binN[k] < MIN_BIN_SAMPLES)
                continue;
            const o = this.binOff[k] < 0 ? -this.binOff[k] : this.binOff[k];
            if (o > m)
                m = o;
        }
        return m;
    }
    buildTable() {
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
    /** Steady state: prediction = background; four pixels per word, per-lane 16-bit arithmetic. */
    detectIdentity() {
        const c32 = this.cur32;
        const b32 = this.bg32;
        const t32 = this.thr32;
        const cur = this.cur;
        const bg8 = this.bg8;
        const thr8 = this.thr8;
        const changed = this.changed;
        const ws = this.wordStart;
        const we = this.wordEnd;
        let nc = 0;
        for (let s = 0; s < ws.length; s++) {
            const end = we[s];
            for (let j = ws[s]; j < end; j++) {
                const c = c32[j];
                const b = b32[j];
                const t = t32[j];
                // Two 16-bit lanes per value hold v = c - b + 256 (1..511). With a bias of 0x4000, bit 14 of
                // v - t - 257 says c - b > t and bit 14 of 255 - v - t says b - c > t. Every intermediate stays
                // positive and under 2^31, so no lane borrows from its neighbour and V8 keeps int32 arithmetic.
                const ve = (c & 0x00ff00ff) + 0x01000100 - (b & 0x00ff00ff);
                const vo = ((c >>> 8) & 0x00ff00ff) + 0x01000100 - ((b >>> 8) & 0x00ff00ff);
                const te = t & 0x00ff00ff;
                const to = (t >>> 8) & 0x00ff00ff;
                const hit = ((ve + 0x3eff3eff - te) | (0x40ff40ff - ve - te) | (vo + 0x3eff3eff - to) | (0x40ff40ff - vo - to)) & 0x40004000;
                if (hit === 0)
                    continue;
                const i0 = j << 2;
                for (let i = i0; i < i0 + 4; i++) {
                    const d = cur[i] - bg8[i];
                    if (d > thr8[i] || -d > thr8[i])
                        changed[nc++] = i;
                }
            }
        }
        return nc;
    }
    /** During a light change: prediction = table[background], per pixel. */
    detectTable() {
        const cur = this.cur;
        const bg8 = this.bg8;
        const thr8 = this.thr8;
        const lut = this.lut;
        const changed = this.changed;
        const mask = this.mask;
        const ss = mask.spanStart;
        const se = mask.spanEnd;
        let nc = 0;
        for (let s = 0; s < mask.spanCount; s++) {
            const end = se[s];
            for (let i = ss[s]; i < end; i++) {
                const d = cur[i] - lut[bg8[i]];
                if (d > thr8[i] || -d > thr8[i])
                    changed[nc++] = i;
            }
        }
        return nc;
    }
    clearMap() {
        const map = this.map;
        const changed = this.changed;
        const w = this.width;
        const wp = w + 2;
        for (let k = 0; k < this.changedCount; k++) {
            const i = changed[k];
            map[i + ((i / w) | 0) * 2 + wp + 1] = 0;
        }
        this.changedCount = 0;
    }
    markMap() {
        const map = this.map;
        const changed = this.changed;
        const w = this.width;
        const wp = w + 2;
        for (let k = 0; k < this.changedCount; k++) {
            const i = changed[k];
            map[i + ((i / w) | 0) * 2 + wp + 1] = 1;
        }
    }
    /** Running averages on this frame's share of rows (rotating), with the rates scaled to match. */
    updateBackground() {
        const U = this.opts.updateInterval;
        const a = 1 - Math.pow(1 - this.opts.backgroundRate, U);
        const aSlow = 1 - Math.pow(1 - this.opts.backgroundRate * 0.1, U);
        const an = 1 - Math.pow(1 - this.opts.noiseRate, U);
        const T = this.thresh;
        const kN = this.opts.noiseFactor;
        const cap = T * NOISE_CAP_FACTOR;
        const lut = this.lut;
        const useLut = this.tableActive;
        const cur = this.cur;
        const bgF = this.bgF;
        const bg8 = this.bg8;
        const noise = this.noise;
        const thr8 = this.thr8;
        const map = this.map;
        const mask = this.mask;
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
                    let d = c - (useLut ? lut[b8] : b8);
                    if (d < 0)
                        d = -d;
                    const nz = noise[i] + an * ((d < cap ? d : cap) - noise[i]);
                    noise[i] = nz;
                    const b = bgF[i];
                    const nb = b + (map[i + pad] !== 0 ? aSlow : a) * (c - b);
                    bgF[i] = nb;
                    bg8[i] = (nb + 0.5) | 0;
                    let t = kN * nz;
                    if (t < T)
                        t = T;
                    thr8[i] = t < INACTIVE - 1 ? t | 0 : INACTIVE - 1;
                }
            }
        }
        const outside = this.outsideSamples;
        const a1 = this.opts.backgroundRate;
        for (let k = 0; k < outside.length; k++) {
            const i = outside[k];
            const b = bgF[i];
            const nb = b + a1 * (cur[i] - b);
            bgF[i] = nb;
            bg8[i] = (nb + 0.5) | 0;
        }
        this.phase = (this.phase + 1) % U;
    }
    count() {
        const mask = this.mask;
        const map = this.map;
        const changed = this.changed;
        const nc = this.changedCount;
        const w = this.width;
        const height = this.height;
        const wp = w + 2;
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
            if (nb < minN)
                continue;
            count++;
            const x = i - y * w;
            if (x < minX)
                minX = x;
            if (x > maxX)
                maxX = x;
            if (y < minY)
                minY = y;
            if (y > maxY)
                maxY = y;
            let rb = bits[i];
            while (rb !== 0) {
                rc[31 - Math.clz32(rb & -rb)]++;
                rb &= rb - 1;
            }
        }
        const r = this.result;
        let any = false;
        const regionArea = mask.regionArea;
        for (let k = 0; k < r.regions.length; k++) {
            const rr = r.regions[k];
            rr.changedArea = rc[k];
            rr.score = regionArea[k] > 0 ? rc[k] / regionArea[k] : 0;
            rr.motion = regionArea[k] > 0 && rc[k] >= this.regionMin[k];
            if (rr.motion)
                any = true;
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
        }
        else {
            r.bbox = null;
        }
        return r;
    }
    allocate(width, height) {
        const size = width * height;
        const words = (size + 3) >> 2;
        const mask = (0, roi_1.buildRegionMask)(this.opts.regions, width, height);
        this.mask = mask;
        this.width = width;
        this.height = height;
        this.cur32 = new Int32Array(words);
        this.cur = new Uint8Array(this.cur32.buffer, 0, size);
        this.bg32 = new Int32Array(words);
        this.bg8 = new Uint8Array(this.bg32.buffer, 0, size);
        this.thr32 = new Int32Array(words);
        this.thr8 = new Uint8Array(this.thr32.buffer, 0, size);
        this.bgF = new Float32Array(size);
        this.noise = new Float32Array(size);
        this.map = new Uint8Array((width + 2) * (height + 2));
        this.changed = new Int32Array(size);
        this.changedCount = 0;
        this.phase = 0;
        const ws = [];
        const we = [];
        for (let s = 0; s < mask.spanCount; s++) {
            const a = mask.spanStart[s] >> 2;
            const b = (mask.spanEnd[s] + 3) >> 2;
            if (ws.length > 0 && a <= we[we.length - 1])
                we[we.length - 1] = Math.max(we[we.length - 1], b);
            else {
                ws.push(a);
                we.push(b);
            }
        }
        this.wordStart = Int32Array.from(ws);
        this.wordEnd = Int32Array.from(we);
        this.rowSpan = new Int32Array(height + 1);
        let s = 0;
        for (let y = 0; y <= height; y++) {
            while (s < mask.spanCount && mask.spanStart[s] < y * width)
                s++;
            this.rowSpan[y] = s;
        }
        // Light is sampled over the whole frame except exclude areas, not only the regions: a small
        // region filled by an object would otherwise look like a light change.
        const samples = [];
        const outside = [];
        for (let y = 0; y < height; y += SAMPLE_ROW_STEP) {
            for (let x = (y / SAMPLE_ROW_STEP) % SAMPLE_COL_STEP; x < width; x += SAMPLE_COL_STEP) {
                const i = y * width + x;
                if (mask.excluded[i] !== 0)
                    continue;
                samples.push(i);
                if (mask.regionBits[i] === 0)
                    outside.push(i);
            }
        }
        this.outsideSamples = Int32Array.from(outside);
        this.samples = Int32Array.from(samples);
        this.samplesPad = Int32Array.from(samples, (i) => i + ((i / width) | 0) * 2 + width + 3);
        const nr = mask.includes.length;
        this.regionCount = new Int32Array(nr);
        // A region smaller than four times minArea could hardly ever report: cap its need at a quarter of its area.
        this.regionMin = Int32Array.from(mask.includes.map((reg, k) => Math.max(1, Math.min(reg.minArea ?? this.opts.minArea, Math.floor(mask.regionArea[k] / 4)))));
        this.result.regions = mask.includes.map((reg) => ({ name: reg.name, motion: false, changedArea: 0, score: 0 }));
        this.result.width = width;
        this.result.height = height;
    }
    /** Background := current frame; thresholds from the noise floor; inactive pixels can never fire. */
    seed(resetNoise) {
        const cur = this.cur;
        const bgF = this.bgF;
        const noise = this.noise;
        const thr8 = this.thr8;
        const T = this.thresh;
        const kN = this.opts.noiseFactor;
        // Start at half the floor so the threshold starts at pixelThreshold and the floor is learned upwards.
        if (resetNoise)
            noise.fill(kN > 0 ? T / kN / 2 : 0);
        this.bg8.set(cur);
        thr8.fill(INACTIVE);
        const mask = this.mask;
        for (let s = 0; s < mask.spanCount; s++) {
            for (let i = mask.spanStart[s]; i < mask.spanEnd[s]; i++) {
                let t = kN * noise[i];
                if (t < T)
                    t = T;
                thr8[i] = t < INACTIVE - 1 ? t : INACTIVE - 1;
            }
        }
        for (let i = 0; i < bgF.length; i++)
            bgF[i] = cur[i];
        this.clearMap();
        this.learnLeft = this.opts.learnFrames;
    }
    finishEmpty(globalChange, learning) {
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
exports.MotionDetector = MotionDetector;
function clamp(v, lo, hi) {
    if (!Number.isFinite(v))
        return lo;
    return v < lo ? lo : v > hi ? hi : v;
}
function stripUndefined(o) {
    const out = {};
    for (const [k, v] of Object.entries(o))
        if (v !== undefined)
            out[k] = v;
    return out;
}

'use strict';
// Moved out of the plugin (src/core/) into the benchmark's own library: our own JPEG encoding was measured against
// FFmpeg's encoder and not taken (README, CPU per camera), so the package does not ship it. It stays here, with its
// tests, so bench/jpeg-encode.js can be rerun.
/**
 * JPEG encoding of raw frames in our process, with sharp (libvips, libjpeg-turbo), for the capture path where
 * FFmpeg writes decoded frames (`-f rawvideo -pix_fmt rgb24`) instead of encoding JPEG itself: then whether a frame
 * is encoded is decided frame by frame (viewers or none) without restarting FFmpeg.
 *
 * Quality follows FFmpeg's `-q:v` scale so a stream's setting means the same bytes per frame on either path; see
 * FFMPEG_Q_TO_SHARP. Chroma is subsampled 4:2:0 like FFmpeg's yuvj420p output, Huffman tables are optimised per
 * image (FFmpeg's mjpeg default, `-huffman optimal`): without that, sharp needs 10 to 30 more quality points for the
 * same bytes, loses SSIM, and cannot get as small as FFmpeg's -q:v 26 and above at all.
 *
 * sharp cannot take FFmpeg's planar YUV: its raw input is interleaved 1 to 4 channels read as gray/RGB/RGBA, and
 * libvips has no YCbCr interpretation, so a colour frame goes yuv420p → rgb24 (FFmpeg's swscale) → YCbCr 4:2:0
 * (libjpeg) and pays both conversions. bench/jpeg-encode.js measures what that costs against FFmpeg's own encoder:
 * on H.264 720p and 1080p at -q:v 5 this path takes 1.36 to 1.51 times the CPU per frame, the raw pipe alone
 * (conversion, 2.8 MB a frame through a pipe, reassembly) 3.2 to 3.6 ms a frame at 720p before any encoding, and at
 * equal bytes its SSIM is a little lower. So FFmpeg encodes by default; this path is for a
 * capture that must switch JPEG on and off at any frame without a restart.
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.JpegEncoder = exports.SharpLoadError = exports.FFMPEG_Q_TO_SHARP = void 0;
exports.sharpQuality = sharpQuality;
exports.encodeRaw = encodeRaw;
/**
 * sharp's quality for FFmpeg's mjpeg -q:v 2..31 (index q - 2): the quality whose JPEGs have the bytes per frame of
 * FFmpeg's at that q, measured by scripts/jpeg-quality-map.js on H.264 1280x720 frames (testsrc2, clean and with
 * mild sensor noise; the two agreed within 3 points everywhere). SSIM at equal bytes (luma, against the decoded
 * source): FFmpeg is ahead at high quality (q 5: 0.9949 vs 0.9933 clean, 0.9841 vs 0.9813 noisy), level near
 * q 8, and sharp ahead at q 12 and above (q 31: 0.9676 vs 0.9726).
 */
exports.FFMPEG_Q_TO_SHARP = [
  91, 86, 82, 78, 74, 70, 66, 62, 57, 52, 47, 43, 39, 37, 34, 32, 30, 28, 27, 26, 25, 24, 22, 22, 21, 20, 20, 19, 18, 17,
];
const MIN_Q = 2;
const MAX_Q = 31;
/** libuv's threadpool has 4 threads by default, shared with sharp's other users (gray decodes, placeholders). */
const MAX_CONCURRENCY = 4;
const MAX_QUEUE = 8;
const MAX_DIMENSION = 16384;
const DEFAULT_MAX_FAILURES = 3;
/** sharp's quality (1..100) for FFmpeg's -q:v (2 best .. 31 smallest; rounded, like buildArgs does). */
function sharpQuality(ffmpegQ) {
  if (typeof ffmpegQ !== 'number' || !Number.isFinite(ffmpegQ) || Math.round(ffmpegQ) < MIN_Q || Math.round(ffmpegQ) > MAX_Q) {
    throw new RangeError(`JPEG quality must be ${MIN_Q} (best) to ${MAX_Q} (smallest), got ${String(ffmpegQ)}`);
  }
  return exports.FFMPEG_Q_TO_SHARP[Math.round(ffmpegQ) - MIN_Q];
}
/** sharp (or its native part) is not installed or does not load on this platform: no frame will ever encode here. */
class SharpLoadError extends Error {
  name = 'SharpLoadError';
}
exports.SharpLoadError = SharpLoadError;
let sharpLoad;
// sharp loads libvips (tens of MB): only once something encodes. A failed load is kept, so every encoder falls back.
const loadSharp = () => (sharpLoad ??= import('sharp').then((m) => m.default, (err) => {
  throw new SharpLoadError(`sharp could not be loaded: ${firstLine(err)}`);
}));
function firstLine(err) {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}
function checkFormat(f) {
  const dim = (v) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_DIMENSION;
  if (!f || !dim(f.width) || !dim(f.height)) {
    throw new RangeError(`frame size must be whole numbers of pixels from 1 to ${MAX_DIMENSION}, got ${String(f?.width)}x${String(f?.height)}`);
  }
  if (f.channels !== 1 && f.channels !== 3)
    throw new RangeError(`channels must be 1 (gray) or 3 (rgb24), got ${String(f.channels)}`);
}
function frameBytes(f) {
  return f.width * f.height * f.channels;
}
/**
 * Encodes one raw frame at sharp's `quality` (1..100; sharpQuality() converts FFmpeg's scale). Rejects when the
 * buffer is not exactly width*height*channels bytes, with a SharpLoadError when sharp cannot be loaded, and with
 * sharp's error when it fails.
 */
async function encodeRaw(data, format, quality) {
  checkFormat(format);
  if (!Number.isInteger(quality) || quality < 1 || quality > 100)
    throw new RangeError(`sharp quality must be 1 to 100, got ${String(quality)}`);
  if (!Buffer.isBuffer(data))
    throw new TypeError('encodeRaw: data must be a Buffer');
  if (data.length !== frameBytes(format)) {
    throw new RangeError(`raw frame has ${data.length} bytes, expected ${frameBytes(format)} for ${format.width}x${format.height}x${format.channels}`);
  }
  const sharp = await loadSharp();
  const image = sharp(data, { raw: { width: format.width, height: format.height, channels: format.channels } });
  // libvips writes sRGB unless told otherwise: a gray frame would become a three-component JPEG.
  if (format.channels === 1)
    image.toColourspace('b-w');
  return image.jpeg({ quality, chromaSubsampling: '4:2:0', optimiseCoding: true }).toBuffer();
}
/**
 * Encodes a stream of raw frames with bounded work: at most `concurrency` encodes in the libuv threadpool and
 * `queue` frames waiting; a frame pushed into a full queue pushes out the oldest waiting one (live video wants the
 * newest picture, and an unbounded queue would grow without end on a machine that cannot keep up). Each frame's
 * release() runs once sharp no longer reads its bytes (after its encode, or when it is dropped), so frame buffers
 * can return to the splitter's pool.
 */
class JpegEncoder {
  stats = { encoded: 0, dropped: 0, failed: 0, refused: 0, lastMs: 0 };
  format;
  /** sharp's quality used for every frame. */
  sharpQuality;
  concurrency;
  queueSize;
  maxFailures;
  onJpeg;
  onFallback;
  onError;
  /** Encodes running or finished but not yet delivered, in push order. */
  running = [];
  waiting = [];
  active = 0;
  consecutiveFailures = 0;
  fallbackReason;
  closed = false;
  idleWaiters = [];
  constructor(opts) {
    if (!opts || typeof opts.onJpeg !== 'function')
      throw new TypeError('JpegEncoder: onJpeg must be a function');
    const format = { width: opts.width, height: opts.height, channels: opts.channels ?? 3 };
    checkFormat(format);
    this.format = format;
    this.sharpQuality = sharpQuality(opts.quality);
    this.concurrency = whole(opts.concurrency ?? 1, 1, MAX_CONCURRENCY, 'concurrency');
    this.queueSize = whole(opts.queue ?? 1, 0, MAX_QUEUE, 'queue');
    this.maxFailures = whole(opts.maxFailures ?? DEFAULT_MAX_FAILURES, 1, 1000, 'maxFailures');
    this.onJpeg = opts.onJpeg;
    this.onFallback = opts.onFallback;
    this.onError = opts.onError;
  }
  /** Why the encoder gave up, once it has: from then on FFmpeg should encode. */
  get fallback() {
    return this.fallbackReason;
  }
  /** Frames encoding or waiting. */
  get pending() {
    return this.active + this.waiting.length;
  }
  /**
   * Offers a frame. `release` (the splitter's) runs once its bytes are no longer needed. After the fallback or
   * close() the frame is refused at once.
   */
  push(data, index, release) {
    if (this.fallbackReason !== undefined || this.closed) {
      this.stats.refused++;
      release?.();
      return;
    }
    const job = { data, index, release, settled: false };
    if (this.active < this.concurrency) {
      this.start(job);
      return;
    }
    if (this.queueSize === 0) {
      this.drop(job);
      return;
    }
    if (this.waiting.length >= this.queueSize)
      this.drop(this.waiting.shift());
    this.waiting.push(job);
  }
  /** Resolves once nothing is encoding or waiting. */
  idle() {
    if (this.pending === 0)
      return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
  /**
   * Refuses further frames and drops the waiting ones; encodes already running finish and are still delivered.
   * Resolves once they have.
   */
  close() {
    this.closed = true;
    for (const job of this.waiting.splice(0))
      this.drop(job);
    return this.idle();
  }
  drop(job) {
    this.stats.dropped++;
    job.release?.();
  }
  start(job) {
    this.active++;
    this.running.push(job);
    const started = performance.now();
    encodeRaw(job.data, this.format, this.sharpQuality).then((jpeg) => {
      this.stats.lastMs = performance.now() - started;
      job.result = jpeg;
    }, (err) => {
      job.error = err instanceof Error ? err : new Error(String(err));
    }).then(() => this.settle(job));
  }
  settle(job) {
    job.settled = true;
    this.active--;
    job.release?.();
    job.data = EMPTY;
    if (job.error)
      this.failed(job);
    else
      this.consecutiveFailures = 0;
    // Deliver in push order: a later frame that finished first waits for the ones before it.
    while (this.running.length > 0 && this.running[0].settled) {
      const done = this.running.shift();
      if (done.result) {
        this.stats.encoded++;
        this.onJpeg(done.result, done.index);
      }
    }
    const next = this.fallbackReason === undefined ? this.waiting.shift() : undefined;
    if (next)
      this.start(next);
    if (this.pending === 0)
      for (const resolve of this.idleWaiters.splice(0))
        resolve();
  }
  failed(job) {
    this.stats.failed++;
    this.consecutiveFailures++;
    const err = job.error;
    this.onError?.(err, job.index);
    if (this.fallbackReason !== undefined)
      return;
    const loadFailed = err instanceof SharpLoadError;
    if (loadFailed || this.consecutiveFailures >= this.maxFailures) {
      this.fallbackReason = loadFailed
        ? `${err.message}; FFmpeg encodes the JPEGs instead`
        : `${this.consecutiveFailures} JPEG encodes in a row failed (last: ${firstLine(err)}); FFmpeg encodes the JPEGs instead`;
      for (const waiting of this.waiting.splice(0)) {
        this.stats.refused++;
        waiting.release?.();
      }
      this.onFallback?.(this.fallbackReason);
    }
  }
}
exports.JpegEncoder = JpegEncoder;
const EMPTY = Buffer.alloc(0);
function whole(v, min, max, name) {
  if (!Number.isInteger(v) || v < min || v > max)
    throw new RangeError(`JpegEncoder: ${name} must be a whole number from ${min} to ${max}, got ${String(v)}`);
  return v;
}

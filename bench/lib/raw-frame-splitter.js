'use strict';
// Moved out of the plugin (src/core/) into the benchmark's own library: our own JPEG encoding was measured against
// FFmpeg's encoder and not taken (README, CPU per camera), so the package does not ship it. It stays here, with its
// tests, so bench/jpeg-encode.js can be rerun.
/**
 * Cuts FFmpeg's `-f rawvideo` output (frames of exactly `frameBytes` bytes back to back, no headers, no markers)
 * into frames. There is nothing to resynchronise on, so the byte count alone keeps the stream in step: reset()
 * must be called whenever a new byte stream starts (a process restart), or every later frame would be shifted.
 *
 * A frame that lies inside one chunk is delivered as a `subarray` view of it (no copy). A frame spread over chunks
 * (always, for frames larger than the 64 KiB a pipe read returns: a 1280x720 rgb24 frame spans about 43 reads) is
 * copied once, chunk by chunk as the bytes arrive, into a frame buffer. Frame buffers come from a small free list:
 * a consumer that calls the frame's release() when it is done with the bytes gives its buffer back for the next
 * frame, so steady state allocates nothing (a fresh multi-megabyte allocation per frame costs page faults and
 * zeroing by the kernel; bench/jpeg-encode.js measures both). A consumer that never releases only costs an
 * allocation per frame; releasing a frame twice is harmless, and a frame released after reset() still returns
 * its buffer (it was lent once and is free now, whichever byte stream it came from).
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.RawFrameSplitter = void 0;
/** Free buffers kept for reuse at most; more would only hold memory an idle stream does not need. */
const DEFAULT_POOL = 4;
const MAX_POOL = 64;
/** 16384x16384 rgba: anything larger is not a video frame we can encode. */
const MAX_FRAME_BYTES = 16384 * 16384 * 4;
const NO_RELEASE = () => { };
class RawFrameSplitter {
  frameBytes;
  stats = { frames: 0, views: 0, reused: 0, allocated: 0, droppedBytes: 0 };
  onFrame;
  poolSize;
  free = [];
  /**
   * Pooled buffers handed out and not yet released; only these may enter the free list, so a second release of
   * the same frame cannot put one buffer in the list twice. Weak: a consumer that never releases must not leak.
   */
  lent = new WeakSet();
  /** The frame being assembled across chunks, and how many of its bytes have arrived. */
  partial;
  filled = 0;
  index = 0;
  constructor(opts) {
    if (!opts || typeof opts.onFrame !== 'function')
      throw new TypeError('RawFrameSplitter: onFrame must be a function');
    const bytes = opts.frameBytes;
    if (!Number.isInteger(bytes) || bytes < 1 || bytes > MAX_FRAME_BYTES) {
      throw new RangeError(`RawFrameSplitter: frameBytes must be a whole number from 1 to ${MAX_FRAME_BYTES}, got ${String(bytes)}`);
    }
    const pool = opts.pool ?? DEFAULT_POOL;
    if (!Number.isInteger(pool) || pool < 0 || pool > MAX_POOL) {
      throw new RangeError(`RawFrameSplitter: pool must be a whole number from 0 to ${MAX_POOL}, got ${String(pool)}`);
    }
    this.frameBytes = bytes;
    this.onFrame = opts.onFrame;
    this.poolSize = pool;
  }
  /** Bytes of the frame being assembled (0 at a frame boundary). */
  get pendingBytes() {
    return this.filled;
  }
  push(chunk) {
    const len = chunk.length;
    const size = this.frameBytes;
    let pos = 0;
    if (this.partial) {
      const n = Math.min(size - this.filled, len);
      chunk.copy(this.partial, this.filled, 0, n);
      this.filled += n;
      pos = n;
      if (this.filled < size)
        return;
      const data = this.partial;
      this.partial = undefined;
      this.filled = 0;
      this.deliver(data, this.releaser(data));
    }
    while (len - pos >= size) {
      this.stats.views++;
      this.deliver(chunk.subarray(pos, pos + size), NO_RELEASE);
      pos += size;
    }
    if (pos < len) {
      this.partial = this.take();
      this.filled = chunk.copy(this.partial, 0, pos, len);
    }
  }
  /** Drops a partial frame and restarts the count: the next byte pushed is the first byte of a frame. */
  reset() {
    if (this.partial) {
      this.stats.droppedBytes += this.filled;
      // Never handed to a consumer: free for the next frame of the new stream.
      if (this.lent.delete(this.partial) && this.free.length < this.poolSize)
        this.free.push(this.partial);
    }
    this.partial = undefined;
    this.filled = 0;
    this.index = 0;
  }
  deliver(data, release) {
    this.stats.frames++;
    this.onFrame({ data, index: this.index++, release });
  }
  take() {
    let buf = this.free.pop();
    if (buf) {
      this.stats.reused++;
    }
    else {
      this.stats.allocated++;
      // Slow: its own memory, never a slice of Node's shared pool, so handing it to a native encoder is safe.
      buf = Buffer.allocUnsafeSlow(this.frameBytes);
    }
    if (this.poolSize > 0)
      this.lent.add(buf);
    return buf;
  }
  releaser(buf) {
    if (this.poolSize === 0)
      return NO_RELEASE;
    return () => {
      if (this.lent.delete(buf) && this.free.length < this.poolSize)
        this.free.push(buf);
    };
  }
}
exports.RawFrameSplitter = RawFrameSplitter;

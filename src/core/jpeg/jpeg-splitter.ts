/**
 * Splits FFmpeg's `-f mjpeg` output (JPEG images written back to back) into single images by their
 * SOI (FF D8) and EOI (FF D9) markers.
 *
 * Assumption: the first EOI after an SOI ends the image. That holds for FFmpeg's mjpeg encoder, which
 * embeds no thumbnails (an EXIF thumbnail would carry its own SOI..EOI inside the outer image) and whose
 * header tables cannot form FF D9 (its quantisation values rise along the zigzag order, so 0xFF can only
 * be followed by another 0xFF or the next marker; Huffman tables hold no 0xFF). Inside entropy-coded data
 * every 0xFF is followed by 0x00 or a restart marker, so FF D9 there is the real end. It does not hold for
 * arbitrary camera JPEGs with EXIF thumbnails: those must not be fed through this class.
 *
 * Frames that lie inside one chunk are delivered as `subarray` views of that chunk (no copy); such a view
 * keeps its whole chunk alive for as long as a consumer holds the frame. A frame spanning chunks is copied
 * once with `Buffer.concat` of the collected parts. Either way the delivered Buffer is never written again.
 */

const MARKER = 0xff;
const SOI_BYTE = 0xd8;
const EOI_BYTE = 0xd9;
const SOI = Buffer.from([MARKER, SOI_BYTE]);
const EOI = Buffer.from([MARKER, EOI_BYTE]);
/** The first byte of an SOI whose second byte arrived in the next chunk. Only ever read (by Buffer.concat). */
const LONE_MARKER = Buffer.from([MARKER]);
const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** A JPEG is at least SOI + EOI. */
const MIN_FRAME_BYTES = 4;

export interface JpegSplitterOptions {
  onFrame: (jpeg: Buffer) => void;
  /** Frames larger than this are dropped without being buffered further. Default 16 MiB. */
  maxFrameBytes?: number;
  /** Called once per dropped frame with the number of its bytes seen when it was dropped (> maxFrameBytes). */
  onOversize?: (bytes: number) => void;
}

export interface JpegSplitterStats {
  frames: number;
  /** Bytes that never became a frame: garbage before an SOI, dropped oversize frames, partial frames cut by reset(). */
  skippedBytes: number;
  oversizeFrames: number;
}

export class JpegSplitter {
  readonly stats: JpegSplitterStats = { frames: 0, skippedBytes: 0, oversizeFrames: 0 };

  private readonly onFrame: (jpeg: Buffer) => void;
  private readonly onOversize: ((bytes: number) => void) | undefined;
  private readonly maxFrameBytes: number;

  /** Parts of the frame in progress; empty when outside a frame. */
  private parts: Buffer[] = [];
  /** Bytes in `parts`. */
  private size = 0;
  private inJpeg = false;
  /**
   * The previous chunk ended in 0xFF that may pair with this chunk's first byte: outside a frame it is not
   * yet counted (it may start an SOI), inside a frame it is already part of the frame (it may start the EOI).
   */
  private pendingMarker = false;

  constructor(opts: JpegSplitterOptions) {
    if (typeof opts.onFrame !== 'function') throw new TypeError('JpegSplitter: onFrame must be a function');
    const max = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isFinite(max) || max < MIN_FRAME_BYTES) {
      throw new RangeError(`JpegSplitter: maxFrameBytes must be a number >= ${MIN_FRAME_BYTES}`);
    }
    this.onFrame = opts.onFrame;
    this.onOversize = opts.onOversize;
    this.maxFrameBytes = Math.floor(max);
  }

  push(chunk: Buffer): void {
    const len = chunk.length;
    if (len === 0) return;
    let pos = 0;

    if (this.pendingMarker) {
      this.pendingMarker = false;
      if (this.inJpeg) {
        if (chunk[0] === EOI_BYTE) {
          this.parts.push(chunk.subarray(0, 1));
          this.size += 1;
          this.finishCollected();
          pos = 1;
        }
      } else if (chunk[0] === SOI_BYTE) {
        pos = this.scanFrameFrom(chunk, 1, LONE_MARKER);
      } else {
        this.stats.skippedBytes += 1;
      }
    }

    while (pos < len) {
      if (this.inJpeg) {
        const eoi = chunk.indexOf(EOI, pos);
        if (eoi === -1) {
          this.collect(chunk.subarray(pos));
          return;
        }
        const end = eoi + 2;
        this.parts.push(chunk.subarray(pos, end));
        this.size += end - pos;
        this.finishCollected();
        pos = end;
      } else {
        const soi = chunk.indexOf(SOI, pos);
        if (soi === -1) {
          if (chunk[len - 1] === MARKER) {
            this.stats.skippedBytes += len - 1 - pos;
            this.pendingMarker = true;
          } else {
            this.stats.skippedBytes += len - pos;
          }
          return;
        }
        this.stats.skippedBytes += soi - pos;
        pos = this.scanFrameFrom(chunk, soi + 2, chunk.subarray(soi, soi + 2));
      }
    }
  }

  /** Inside a JPEG now (its start seen, its end not yet): a reset would cut it short. */
  get inFrame(): boolean {
    return this.inJpeg;
  }

  /** Drops any partial frame, e.g. after the producing process restarted. */
  reset(): void {
    this.stats.skippedBytes += this.size + (this.pendingMarker && !this.inJpeg ? 1 : 0);
    this.parts = [];
    this.size = 0;
    this.inJpeg = false;
    this.pendingMarker = false;
  }

  /**
   * A frame starts with `head` (its SOI, or the SOI's second half when the first ended the previous chunk)
   * and continues at `chunk[from]`. Delivers it if it ends in this chunk, else starts collecting.
   * Returns the position after what was consumed.
   */
  private scanFrameFrom(chunk: Buffer, from: number, head: Buffer): number {
    const eoi = chunk.indexOf(EOI, from);
    if (eoi !== -1) {
      const end = eoi + 2;
      if (head === LONE_MARKER) {
        this.parts.push(LONE_MARKER, chunk.subarray(0, end));
        this.size = 1 + end;
        this.finishCollected();
      } else {
        this.deliver(chunk.subarray(from - 2, end));
      }
      return end;
    }
    this.inJpeg = true;
    if (head === LONE_MARKER) {
      this.parts.push(LONE_MARKER);
      this.size = 1;
      this.collect(chunk.subarray(0));
    } else {
      this.collect(chunk.subarray(from - 2));
    }
    return chunk.length;
  }

  /** Adds a chunk tail that holds no EOI to the frame in progress; drops the frame once it exceeds the cap. */
  private collect(part: Buffer): void {
    this.size += part.length;
    if (this.size > this.maxFrameBytes) {
      this.dropOversize();
      // The tail may end in the FF of the next SOI; the splitter is now outside a frame.
      if (part[part.length - 1] === MARKER) {
        this.stats.skippedBytes -= 1;
        this.pendingMarker = true;
      }
      return;
    }
    this.parts.push(part);
    this.pendingMarker = part[part.length - 1] === MARKER;
  }

  /** The collected parts end with EOI: deliver them as one Buffer. */
  private finishCollected(): void {
    const size = this.size;
    const parts = this.parts;
    this.parts = [];
    this.size = 0;
    this.inJpeg = false;
    if (size > this.maxFrameBytes) {
      this.countOversize(size);
      return;
    }
    this.deliver(parts.length === 1 ? parts[0]! : Buffer.concat(parts, size));
  }

  private deliver(frame: Buffer): void {
    if (frame.length > this.maxFrameBytes) {
      this.countOversize(frame.length);
      return;
    }
    this.stats.frames += 1;
    this.onFrame(frame);
  }

  private dropOversize(): void {
    const size = this.size;
    this.parts = [];
    this.size = 0;
    this.inJpeg = false;
    this.pendingMarker = false;
    this.countOversize(size);
  }

  private countOversize(bytes: number): void {
    this.stats.oversizeFrames += 1;
    this.stats.skippedBytes += bytes;
    this.onOversize?.(bytes);
  }
}

/**
 * Small gray frames for motion detection from JPEGs that no FFmpeg decoded for us (a camera read in pass-through
 * mode, or a JPEG arriving on a wire). sharp's shrink-on-load lets libjpeg decode at 1/2, 1/4 or 1/8 size through
 * its DCT scaling, so a 1280x720 frame for a 240x180 box costs a fraction of a full decode; the rest of the
 * reduction is a resize of the small image. Luma only ('b-w'), 8 bits, row-major: what the motion kernel takes.
 *
 * The output matches motion-detect's inline decode (same sharp pipeline), so switching it to this module changes
 * no result.
 */

import { loadSharp } from '../util/sharp';

export interface GrayImage {
  data: Buffer;
  width: number;
  height: number;
}

export interface GrayBox {
  width: number;
  height: number;
}

/** Refuses JPEGs claiming more pixels than this before decoding them (a decompression bomb, or a wrong stream). */
export const LARGEST_DECODE_PIXELS = 8192 * 8192;
const MAX_BOX = 16384;


function checkBox(box: GrayBox): void {
  const ok = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_BOX;
  if (!box || !ok(box.width) || !ok(box.height)) {
    throw new RangeError(`gray box must be whole numbers of pixels from 1 to ${MAX_BOX}, got ${String(box?.width)}x${String(box?.height)}`);
  }
}

function checkMaxPixels(maxPixels: number): void {
  if (!Number.isInteger(maxPixels) || maxPixels < 1) throw new RangeError(`maxPixels must be a positive whole number, got ${String(maxPixels)}`);
}

/**
 * Decodes `jpeg` to 8-bit gray that fits inside `box` (aspect ratio kept, never larger than the box; a smaller
 * image is enlarged to fit, as motion-detect does). Rejects a JPEG that does not decode cleanly or has more than
 * `maxPixels` pixels.
 */
const LUMA: [[number, number, number], [number, number, number], [number, number, number]] = [
  [0.299, 0.587, 0.114],
  [0, 1, 0],
  [0, 0, 1],
];

export async function decodeGray(jpeg: Buffer, box: GrayBox, maxPixels: number = LARGEST_DECODE_PIXELS): Promise<GrayImage> {
  if (!Buffer.isBuffer(jpeg)) throw new TypeError('decodeGray: jpeg must be a Buffer');
  checkBox(box);
  checkMaxPixels(maxPixels);
  const sharp = await loadSharp();
  const { data, info } = await sharp(jpeg, { failOn: 'error', limitInputPixels: maxPixels })
    .resize(box.width, box.height, { fit: 'inside', fastShrinkOnLoad: true })
    // The JPEG's own luma (BT.601 on the gamma-encoded values), as FFmpeg's extractplanes=y gives it, so a camera
    // read without FFmpeg looks the same to motion detection. libvips' 'b-w' works on linear light: pure red
    // would read 127 instead of 76.
    .recomb(LUMA)
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 1) throw new Error(`decoded JPEG has ${info.channels} channels, expected 1`);
  return { data, width: info.width, height: info.height };
}

export interface GrayDecoderStats {
  decoded: number;
  /** Offered while a decode was running, and not decoded. */
  dropped: number;
  /** JPEGs that did not decode. */
  failed: number;
  /** Wall time of the last decode in ms (libvips threads included), for diagnostics. */
  lastMs: number;
}

/**
 * One decode at a time: a camera sending faster than the decoder keeps up loses frames for motion analysis
 * (counted), never queues them. Motion needs the newest frame, not every frame, and a queue would grow without
 * bound on a slow machine.
 */
export class GrayDecoder {
  readonly stats: GrayDecoderStats = { decoded: 0, dropped: 0, failed: 0, lastMs: 0 };
  readonly box: GrayBox;
  private readonly maxPixels: number;
  private running = false;

  constructor(box: GrayBox, opts: { maxPixels?: number } = {}) {
    checkBox(box);
    const maxPixels = opts.maxPixels ?? LARGEST_DECODE_PIXELS;
    checkMaxPixels(maxPixels);
    this.box = { width: box.width, height: box.height };
    this.maxPixels = maxPixels;
  }

  /** True while a decode runs: an offer now would be dropped. */
  get busy(): boolean {
    return this.running;
  }

  /**
   * Decodes `jpeg` unless a decode is running. Resolves with the gray image, or with undefined when the frame was
   * dropped because the decoder was busy; rejects when the JPEG does not decode.
   */
  offer(jpeg: Buffer): Promise<GrayImage | undefined> {
    if (this.running) {
      this.stats.dropped += 1;
      return Promise.resolve(undefined);
    }
    this.running = true;
    const started = performance.now();
    return decodeGray(jpeg, this.box, this.maxPixels).then(
      (image) => {
        this.running = false;
        this.stats.decoded += 1;
        this.stats.lastMs = performance.now() - started;
        return image;
      },
      (err: unknown) => {
        this.running = false;
        this.stats.failed += 1;
        throw err;
      },
    );
  }
}

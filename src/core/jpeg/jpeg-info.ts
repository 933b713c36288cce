const MARKER = 0xff;
const SOI = 0xd8;
const EOI = 0xd9;
/** Encoders and some cameras pad after EOI; look this far back for it. */
const EOI_SEARCH_TAIL = 64;

/**
 * The bytes of one complete JPEG (SOI..EOI) inside `buf`, trailing padding cut off, or undefined when
 * `buf` is not one. Checks only the frame markers: decoding is far too dear for every frame.
 */
export function jpegView(buf: unknown): Buffer | undefined {
  if (!Buffer.isBuffer(buf) || buf.length < 4 || buf[0] !== MARKER || buf[1] !== SOI) return undefined;
  const last = buf.length - 1;
  const stop = Math.max(2, buf.length - EOI_SEARCH_TAIL);
  for (let i = last; i > stop; i--) {
    if (buf[i] === EOI && buf[i - 1] === MARKER) return i === last ? buf : buf.subarray(0, i + 1);
  }
  return undefined;
}

export interface JpegSize {
  width: number;
  height: number;
}

/** Width and height from the first SOFn segment, or undefined when the header is malformed. */
export function jpegSize(buf: Buffer): JpegSize | undefined {
  let i = 2;
  while (i + 9 < buf.length) {
    if (buf[i] !== MARKER) return undefined;
    const marker = buf[i + 1]!;
    if (marker === MARKER) {
      i++; // fill byte
      continue;
    }
    // Standalone markers carry no length.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }
    const len = buf.readUInt16BE(i + 2);
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const height = buf.readUInt16BE(i + 5);
      const width = buf.readUInt16BE(i + 7);
      return width > 0 && height > 0 ? { width, height } : undefined;
    }
    if (marker === 0xda) return undefined; // scan data before any SOF
    i += 2 + len;
  }
  return undefined;
}

/** 4K UHD: the default cap on the pixels a frame's header may declare (larger ones are refused, never decoded). */
export const DEFAULT_MAX_PIXELS = 3840 * 2160;

'use strict';
// Frames that carry their own number in pixels, so a frame can be recognised wherever it arrives, even after
// FFmpeg decoded and re-encoded it, scaled it to a thumbnail, or a browser drew it on a canvas.
//
// The code: a row of square blocks along the top edge, left to right: a white guard, BITS bits of the frame number
// (white = 1, least significant first), a black guard. A block is 48 px on a 1280 px wide picture and scales with
// the width. Readers sample a few pixels around each block's centre; a picture counts only when every block is
// clearly black or white, so a blend of two frames (the viewer page's cross-fade) is never read as a third number.
const sharp = require('sharp');
const { recordFrames } = require('../../test/helpers/ffmpeg-frames');

const BITS = 12;
const BLOCKS = BITS + 2;
/** Block size at a 1280 px width. */
const BLOCK_1280 = 48;

const blockSize = (width) => Math.max(4, Math.round((width * BLOCK_1280) / 1280));

/** The FFmpeg filter that draws frame n's code (n: the frame's index in FFmpeg's output, from 0). */
function codeFilter(width) {
  const b = blockSize(width);
  const parts = [`drawbox=x=0:y=0:w=${b * BLOCKS}:h=${b}:color=black:t=fill`, `drawbox=x=0:y=0:w=${b}:h=${b}:color=white:t=fill`];
  for (let k = 0; k < BITS; k++) {
    parts.push(`drawbox=x=${b * (1 + k)}:y=0:w=${b}:h=${b}:color=white:t=fill:enable='eq(mod(floor(n/${2 ** k}),2),1)'`);
  }
  return parts.join(',');
}

/** `count` JPEGs of FFmpeg's testsrc2 at width x height, frame i carrying the number i (count <= 2^BITS). */
async function codedFrames({ width = 1280, height = 720, count = 300, quality = 5 } = {}) {
  if (count > 2 ** BITS) throw new Error(`at most ${2 ** BITS} numbered frames`);
  const frames = await recordFrames({ count, size: `${width}x${height}`, rate: 10, source: 'testsrc2', quality, filter: codeFilter(width) });
  return frames.map((f) => Buffer.from(f));
}

/**
 * Reads the code from a luma lookup `luma(x, y)` (0..255) of a picture `width` wide. Returns the number, or -1 when
 * a block is neither clearly black nor white (a blend, a damaged picture, no code at all). Self-contained: the
 * benches inject its source into the viewer page's worker.
 */
function readCode(luma, width) {
  const b = Math.max(4, Math.round((width * 48) / 1280));
  const y = Math.floor(b / 2);
  let n = 0;
  for (let k = 0; k < 14; k++) {
    const x = b * k + Math.floor(b / 2);
    let sum = 0;
    for (let dx = -1; dx <= 1; dx++) sum += luma(x + dx, y);
    const v = sum / 3;
    if (v > 70 && v < 185) return -1;
    const bit = v >= 185 ? 1 : 0;
    if (k === 0 && bit !== 1) return -1;
    if (k === 13 && bit !== 0) return -1;
    if (k >= 1 && k <= 12 && bit) n += 2 ** (k - 1);
  }
  return n;
}

/** The number a JPEG carries (-1 when unreadable). */
async function jpegNumber(jpeg) {
  const meta = await sharp(jpeg).metadata();
  const b = blockSize(meta.width);
  const w = Math.min(meta.width, b * BLOCKS);
  const h = Math.min(meta.height, b);
  const { data, info } = await sharp(jpeg).extract({ left: 0, top: 0, width: w, height: h }).greyscale().raw().toBuffer({ resolveWithObject: true });
  return readCode((x, y) => data[y * info.width + Math.min(info.width - 1, Math.max(0, x))], meta.width);
}

module.exports = { BITS, BLOCKS, blockSize, codeFilter, codedFrames, readCode, jpegNumber };

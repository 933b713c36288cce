'use strict';
// Real JPEG frames from a real FFmpeg (lavfi test source), split on SOI/EOI.
const { spawn } = require('node:child_process');

const FFMPEG = process.env.FFMPEG_PATH || 'ffmpeg';

/** Splits FFmpeg's -f mjpeg output: its JPEGs carry no embedded thumbnails, so the first EOI ends a frame. */
function splitJpegs(buf) {
  const frames = [];
  let start = buf.indexOf(Buffer.from([0xff, 0xd8]));
  while (start >= 0) {
    const end = buf.indexOf(Buffer.from([0xff, 0xd9]), start + 2);
    if (end < 0) break;
    frames.push(buf.subarray(start, end + 2));
    start = buf.indexOf(Buffer.from([0xff, 0xd8]), end + 2);
  }
  return frames;
}

/**
 * Renders `count` frames of lavfi `source` (e.g. 'testsrc2') at `size` into memory.
 * @returns {Promise<Buffer[]>}
 */
function recordFrames({ count = 30, size = '320x240', rate = 10, source = 'testsrc2', quality = 5, filter } = {}) {
  return new Promise((resolve, reject) => {
    const args = ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `${source}=size=${size}:rate=${rate}`,
      ...(filter ? ['-vf', filter] : []), '-frames:v', String(count), '-f', 'mjpeg', '-q:v', String(quality), 'pipe:1'];
    const child = spawn(FFMPEG, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    let err = '';
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`ffmpeg exited ${code}: ${err}`));
      const frames = splitJpegs(Buffer.concat(out)).map((f) => Buffer.from(f));
      if (frames.length !== count) return reject(new Error(`expected ${count} frames, split ${frames.length}`));
      resolve(frames);
    });
  });
}

module.exports = { recordFrames, splitJpegs, FFMPEG };

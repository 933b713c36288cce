'use strict';
// Fixtures recorded from the real FFmpeg at test time, into a temp dir that is removed afterwards.
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function ffmpeg(args) {
  execFileSync('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Records one encode to both an `-f mjpeg` stream and separate image2 files, so the expected frames come
 * from FFmpeg itself, not from a splitter. Returns { stream, frames }.
 */
function recordMjpeg(dir, { size = '320x240', frames = 6, q = 5, name = 'clip' } = {}) {
  const stream = path.join(dir, `${name}.mjpg`);
  const pattern = path.join(dir, `${name}-%03d.jpg`);
  const src = `testsrc2=size=${size}:rate=10`;
  ffmpeg(['-f', 'lavfi', '-i', src, '-frames:v', String(frames), '-q:v', String(q), '-f', 'mjpeg', stream,
    '-frames:v', String(frames), '-q:v', String(q), '-f', 'image2', pattern]);
  const files = fs.readdirSync(dir).filter((f) => f.startsWith(`${name}-`) && f.endsWith('.jpg')).sort();
  return { stream: fs.readFileSync(stream), frames: files.map((f) => fs.readFileSync(path.join(dir, f))) };
}

/** Deterministic PRNG (mulberry32) so a failing random chunking can be replayed. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A copy with its own ArrayBuffer (never the shared pool), like a pipe read, so `.buffer` identity means "same chunk". */
function own(buf) {
  const b = Buffer.allocUnsafeSlow(buf.length);
  buf.copy(b);
  return b;
}

/** Cuts `buf` at the given ascending positions into chunks that each own their memory. */
function cut(buf, positions) {
  const chunks = [];
  let prev = 0;
  for (const p of positions) {
    chunks.push(own(buf.subarray(prev, p)));
    prev = p;
  }
  chunks.push(own(buf.subarray(prev)));
  return chunks;
}

/**
 * Records one encode as FFmpeg's `-f mpjpeg` multipart stream (what production reads from pipe:1) and as image2
 * files (the expected frames, from FFmpeg itself). Returns { stream, frames }.
 */
function recordMpjpeg(dir, { size = '320x240', frames = 6, q = 5, name = 'mp', bin = 'ffmpeg' } = {}) {
  const stream = path.join(dir, `${name}.mpjpeg`);
  const pattern = path.join(dir, `${name}-%03d.jpg`);
  const src = `testsrc2=size=${size}:rate=10`;
  execFileSync(bin, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', src,
    '-frames:v', String(frames), '-q:v', String(q), '-f', 'mpjpeg', stream,
    '-frames:v', String(frames), '-q:v', String(q), '-f', 'image2', pattern], { stdio: ['ignore', 'ignore', 'pipe'] });
  const files = fs.readdirSync(dir).filter((f) => f.startsWith(`${name}-`) && f.endsWith('.jpg')).sort();
  return { stream: fs.readFileSync(stream), frames: files.map((f) => fs.readFileSync(path.join(dir, f))) };
}

/**
 * What a splitter gave against the frames FFmpeg wrote: the same count, and each frame byte for byte in order.
 * A frame may be a Buffer or, as RawFrameSplitter emits them, `{ index, data }`, whose index must be its position.
 */
function assertFrames(actual, expected, label) {
  assert.equal(actual.length, expected.length, `${label}: frame count`);
  for (let i = 0; i < expected.length; i++) {
    const frame = Buffer.isBuffer(actual[i]) ? actual[i] : actual[i].data;
    if (!Buffer.isBuffer(actual[i])) assert.equal(actual[i].index, i, `${label}: index`);
    assert.ok(frame.equals(expected[i]), `${label}: frame ${i} differs (len ${frame.length} vs ${expected[i].length})`);
  }
}

module.exports = { tempDir, ffmpeg, recordMjpeg, recordMpjpeg, prng, cut, own, assertFrames };

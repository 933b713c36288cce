'use strict';
// Who should encode the JPEGs of an H.264 camera: FFmpeg itself (today's capture: -c:v mjpeg -pix_fmt yuvj420p
// -q:v 5 -f mpjpeg) or this process, from raw frames FFmpeg writes (-f rawvideo -pix_fmt rgb24, cut by
// RawFrameSplitter, encoded by JpegEncoder with sharp at sharpQuality(5)). Same clip, same decoder, same frames:
//   decode only        FFmpeg -f null, to take decoding out of both encoders' figures;
//   FFmpeg mjpeg q5    the baseline, its pipe split by MultipartJpegSplitter as production does;
//   raw rgb24 → sharp  every frame encoded (the pipe is paused while the encoder is busy, so none is dropped);
//   raw pipes alone    rgb24 with pooled frame buffers, rgb24 with a new buffer per frame, and yuv420p (no
//                      conversion; sharp cannot take it): what the raw path costs before any encoding.
// CPU per frame = FFmpeg's (the waited child's utime+stime, /proc/self/stat cutime+cstime) + this process's
// (process.cpuUsage(): every thread, the libuv pool where sharp encodes included). Medians of ROUNDS rounds, the
// spread (min-max) beside them; rounds run every variant in turn, so machine noise hits all of them.
// Quality: luma SSIM (FFmpeg's ssim filter) of each path's JPEGs against the decoded source (the source's TV range
// expanded to full range as the encoders do), bytes per frame, then the same at equal bytes (sharp's quality
// searched so its bytes match FFmpeg q5's) and bytes at equal SSIM (the quality sharp needs to reach FFmpeg's).
// Run: npm run build && node bench/jpeg-encode.js      (about a minute)
const { execFileSync, spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { findOnPath } = require('../dist/core/ffmpeg/binary.js');
const { MultipartJpegSplitter, FFMPEG_BOUNDARY } = require('../dist/core/jpeg/multipart-splitter.js');
const { RawFrameSplitter } = require('./lib/raw-frame-splitter.js');
const { JpegEncoder, encodeRaw, sharpQuality } = require('./lib/jpeg-encoder.js');
const { median, ownCpuMs, waitedChildrenCpuMs } = require('./lib/measure.js');

const FPS = 10;
const Q = 5;
const ROUNDS = 7;
const SIZES = [
  { width: 1280, height: 720, frames: 40 },
  { width: 1920, height: 1080, frames: 24 },
];
/** Frames used to search qualities (every n-th frame of the clip), to keep the searches short. */
const SEARCH_EVERY = 3;
const QUIET = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error'];

let ffmpegPath;

/**
 * Runs FFmpeg on `clip` with `outputArgs`, feeding its stdout to `onChunk(chunk, child)`; `finish()` (optional,
 * awaited after FFmpeg exits) is where asynchronous work still running (encodes) completes. Returns CPU in ms.
 */
function run(clip, outputArgs, onChunk, finish) {
  return new Promise((resolve, reject) => {
    const childBefore = waitedChildrenCpuMs();
    const ourBefore = process.cpuUsage();
    const child = spawn(ffmpegPath, [...QUIET, '-i', clip, '-map', '0:v:0', '-vf', `fps=${FPS}`, '-an', '-sn', '-dn', ...outputArgs],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (c) => onChunk(c, child));
    child.on('error', reject);
    child.on('close', async (code) => {
      if (code !== 0) return reject(new Error(`FFmpeg ${outputArgs.join(' ')} exited ${code}: ${stderr.trim()}`));
      const ffmpegMs = waitedChildrenCpuMs() - childBefore;
      try {
        if (finish) await finish();
      } catch (err) {
        return reject(err);
      }
      resolve({ ffmpegMs, nodeMs: ownCpuMs(ourBefore) });
    });
  });
}

async function decodeOnly(clip) {
  return run(clip, ['-f', 'null', '-'], () => {});
}

async function ffmpegMjpeg(clip, keep) {
  const jpegs = [];
  let bytes = 0;
  const splitter = new MultipartJpegSplitter({ boundary: FFMPEG_BOUNDARY, onFrame: (data) => {
    bytes += data.length;
    jpegs.push(keep ? Buffer.from(data) : undefined);
  } });
  const cpu = await run(clip, ['-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p', '-q:v', String(Q), '-f', 'mpjpeg', '-boundary_tag', FFMPEG_BOUNDARY, 'pipe:1'],
    (c) => splitter.push(c));
  return { ...cpu, frames: jpegs.length, bytes, jpegs };
}

async function rawSharp(clip, size, keep) {
  const jpegs = [];
  let bytes = 0;
  let child;
  let paused = false;
  const encoder = new JpegEncoder({
    width: size.width,
    height: size.height,
    quality: Q,
    queue: 8,
    onJpeg: (jpeg) => {
      bytes += jpeg.length;
      jpegs.push(keep ? jpeg : undefined);
      if (paused && encoder.pending < 2) {
        paused = false;
        child.stdout.resume();
      }
    },
  });
  const splitter = new RawFrameSplitter({ frameBytes: size.width * size.height * 3, onFrame: (f) => encoder.push(f.data, f.index, f.release) });
  const cpu = await run(clip, ['-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1'], (c, ch) => {
    child = ch;
    splitter.push(c);
    // Backpressure instead of drops: the bench wants every frame encoded. FFmpeg blocks on a full pipe, idle.
    if (encoder.pending >= 2 && !paused) {
      paused = true;
      ch.stdout.pause();
    }
  }, () => encoder.idle());
  if (encoder.stats.dropped || encoder.stats.failed) throw new Error(`raw → sharp dropped ${encoder.stats.dropped}, failed ${encoder.stats.failed}`);
  return { ...cpu, frames: jpegs.length, bytes, jpegs, splitter: splitter.stats };
}

async function rawPipe(clip, size, { pixFmt, pool }) {
  const frameBytes = pixFmt === 'rgb24' ? size.width * size.height * 3 : (size.width * size.height * 3) / 2;
  let frames = 0;
  let check = 0;
  const splitter = new RawFrameSplitter({ frameBytes, pool, onFrame: (f) => {
    frames++;
    check ^= f.data[f.data.length >> 1]; // touch the frame, as a consumer would
    f.release();
  } });
  const cpu = await run(clip, ['-pix_fmt', pixFmt, '-f', 'rawvideo', 'pipe:1'], (c) => splitter.push(c));
  return { ...cpu, frames, check, splitter: splitter.stats };
}

/** Luma and all-plane SSIM of `jpegs` against frames `indices` (null: all) of the decoded clip. */
function ssim(clip, jpegs, indices, dir) {
  const file = path.join(dir, 'ssim.mjpg');
  fs.writeFileSync(file, Buffer.concat(jpegs));
  const pick = indices === null ? '' : `select='${indices.map((i) => `eq(n\\,${i})`).join('+')}',`;
  const graph = `[0:v]${pick}settb=1/${FPS},setpts=N,scale=in_range=tv:out_range=pc,format=yuvj420p[ref];` +
    `[1:v]settb=1/${FPS},setpts=N,format=yuvj420p[enc];[ref][enc]ssim=shortest=1`;
  const r = spawnSync(ffmpegPath, ['-hide_banner', '-nostdin', '-i', clip, '-f', 'mjpeg', '-i', file, '-filter_complex', graph, '-f', 'null', '-']);
  const m = /SSIM Y:([\d.]+).*All:([\d.]+)/.exec(r.stderr.toString());
  if (!m) throw new Error(`no SSIM from FFmpeg: ${r.stderr.toString().slice(-400)}`);
  return { y: Number(m[1]), all: Number(m[2]) };
}

/** The sharp quality (1..100) whose f(quality) is closest to `target`, f rising with quality. */
async function searchQuality(f, target) {
  let lo = 1;
  let hi = 100;
  const memo = new Map();
  const at = async (q) => {
    if (!memo.has(q)) memo.set(q, await f(q));
    return memo.get(q);
  };
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((await at(mid)) <= target) lo = mid;
    else hi = mid;
  }
  return Math.abs((await at(lo)) - target) <= Math.abs((await at(hi)) - target) ? lo : hi;
}

const fmt = (x, d = 2) => x.toFixed(d);
const spread = (xs, d = 2) => `${fmt(Math.min(...xs), d)}-${fmt(Math.max(...xs), d)}`;

async function bench(dir, size) {
  const { width, height, frames } = size;
  const clip = path.join(dir, `cam-${height}p.mp4`);
  // A camera-like stream: 10 fps, a keyframe every 2 s.
  execFileSync(ffmpegPath, [...QUIET, '-y', '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${FPS}`, '-frames:v', String(frames),
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', String(FPS * 2), clip]);
  const rawFile = path.join(dir, `cam-${height}p.rgb`);
  execFileSync(ffmpegPath, [...QUIET, '-y', '-i', clip, '-vf', `fps=${FPS}`, '-pix_fmt', 'rgb24', '-f', 'rawvideo', rawFile]);
  const raw = fs.readFileSync(rawFile);
  const frameBytes = width * height * 3;
  const rgb = Array.from({ length: raw.length / frameBytes }, (_, i) => raw.subarray(i * frameBytes, (i + 1) * frameBytes));

  const variants = {
    decode: () => decodeOnly(clip),
    ffmpeg: (keep) => ffmpegMjpeg(clip, keep),
    sharp: (keep) => rawSharp(clip, size, keep),
    pipePool: () => rawPipe(clip, size, { pixFmt: 'rgb24', pool: 4 }),
    pipeAlloc: () => rawPipe(clip, size, { pixFmt: 'rgb24', pool: 0 }),
    pipeYuv: () => rawPipe(clip, size, { pixFmt: 'yuv420p', pool: 4 }),
  };
  const ms = Object.fromEntries(Object.keys(variants).map((k) => [k, { total: [], ffmpeg: [], node: [] }]));
  const first = {};
  for (const [name, fn] of Object.entries(variants)) first[name] = await fn(true); // warm-up; keeps the JPEGs
  for (const name of ['ffmpeg', 'sharp']) {
    if (first[name].frames !== frames) throw new Error(`${name}: ${first[name].frames} frames, expected ${frames}`);
  }
  for (let round = 0; round < ROUNDS; round++) {
    const order = Object.keys(variants);
    if (round % 2) order.reverse();
    for (const name of order) {
      const r = await variants[name](false);
      ms[name].total.push((r.ffmpegMs + r.nodeMs) / frames);
      ms[name].ffmpeg.push(r.ffmpegMs / frames);
      ms[name].node.push(r.nodeMs / frames);
    }
  }
  const med = (name, part = 'total') => median(ms[name][part]);
  // Encode-only: each path minus what it costs without the encoder, within the same round.
  const diff = (a, b) => ms[a].total.map((x, i) => x - ms[b].total[i]);
  const ffEncode = diff('ffmpeg', 'decode');
  const shEncode = diff('sharp', 'pipePool');

  // Quality.
  const all = [...Array(frames).keys()];
  const ffBytes = first.ffmpeg.bytes / frames;
  const ffSsim = ssim(clip, first.ffmpeg.jpegs, null, dir);
  const mappedQ = sharpQuality(Q);
  const shBytes = first.sharp.bytes / frames;
  const shSsim = ssim(clip, first.sharp.jpegs, null, dir);
  const subset = all.filter((i) => i % SEARCH_EVERY === 0);
  const encodeAll = (q, which) => Promise.all(which.map((i) => encodeRaw(rgb[i], { width, height, channels: 3 }, q)));
  const bytesOf = async (q, which) => (await encodeAll(q, which)).reduce((s, b) => s + b.length, 0) / which.length;
  const ffSubsetBytes = subset.reduce((s, i) => s + first.ffmpeg.jpegs[i].length, 0) / subset.length;
  const eqBytesQ = await searchQuality((q) => bytesOf(q, subset), ffSubsetBytes);
  const eqBytesJpegs = await encodeAll(eqBytesQ, all);
  const eqBytes = eqBytesJpegs.reduce((s, b) => s + b.length, 0) / frames;
  const eqBytesSsim = ssim(clip, eqBytesJpegs, null, dir);
  const ffSubsetSsim = ssim(clip, subset.map((i) => first.ffmpeg.jpegs[i]), subset, dir).y;
  const eqSsimQ = await searchQuality(async (q) => ssim(clip, await encodeAll(q, subset), subset, dir).y, ffSubsetSsim);
  const eqSsimJpegs = await encodeAll(eqSsimQ, all);
  const eqSsimBytes = eqSsimJpegs.reduce((s, b) => s + b.length, 0) / frames;
  const eqSsim = ssim(clip, eqSsimJpegs, null, dir);

  const base = med('ffmpeg');
  const baseEnc = median(ffEncode);
  const row = (label, name, extra = '') => {
    const t = ms[name].total;
    console.log(`  ${label.padEnd(44)} ${fmt(med(name)).padStart(6)} (${spread(t)})  ${fmt(med(name, 'ffmpeg')).padStart(6)} + ${fmt(med(name, 'node')).padStart(5)}` +
      `  ${fmt(med(name) / base).padStart(5)}${extra}`);
  };
  console.log(`\nH.264 ${width}x${height} ${FPS} fps, ${frames} frames, -q:v ${Q}; median of ${ROUNDS} rounds (min-max)`);
  console.log(`  ${''.padEnd(44)} ms CPU/frame (spread)   FFmpeg + node   ratio  bytes/frame  SSIM-Y  (all planes)`);
  row('decode only (FFmpeg -f null)', 'decode');
  row(`FFmpeg mjpeg q${Q} (baseline)`, 'ffmpeg', `  ${String(Math.round(ffBytes)).padStart(11)}  ${fmt(ffSsim.y, 4)}  (${fmt(ffSsim.all, 4)})`);
  row(`raw rgb24 → RawFrameSplitter → sharp q${mappedQ}`, 'sharp', `  ${String(Math.round(shBytes)).padStart(11)}  ${fmt(shSsim.y, 4)}  (${fmt(shSsim.all, 4)})`);
  row('raw rgb24 pipe alone, pooled frame buffers', 'pipePool');
  row('raw rgb24 pipe alone, a new buffer per frame', 'pipeAlloc');
  row('raw yuv420p pipe alone (no rgb conversion)', 'pipeYuv');
  console.log(`  encode only: FFmpeg mjpeg ${fmt(baseEnc)} ms (${spread(ffEncode)}, = mjpeg - decode), sharp ${fmt(median(shEncode))} ms ` +
    `(${spread(shEncode)}, = raw→sharp - raw pipe): ratio ${fmt(median(shEncode) / baseEnc)}`);
  console.log(`  raw rgb24 pipe over decode only: ${fmt(med('pipePool') - med('decode'))} ms/frame (rgb conversion ${fmt(med('pipePool') - med('pipeYuv'))}, ` +
    `pipe write+read+copy of ${(frameBytes / 1e6).toFixed(1)} MB ${fmt(med('pipeYuv') - med('decode'))} for 1.5 B/pixel); a new buffer per frame instead of the pool: ` +
    `${fmt(med('pipeAlloc') - med('pipePool'), 2)} ms/frame`);
  console.log(`  equal bytes: sharp q${eqBytesQ} ${Math.round(eqBytes)} B/frame (${fmt(eqBytes / ffBytes)}x FFmpeg's), SSIM-Y ${fmt(eqBytesSsim.y, 4)} ` +
    `vs FFmpeg ${fmt(ffSsim.y, 4)} (1-SSIM ${fmt((1 - eqBytesSsim.y) / (1 - ffSsim.y))}x FFmpeg's)`);
  console.log(`  equal SSIM-Y: sharp needs q${eqSsimQ}: ${Math.round(eqSsimBytes)} B/frame, ${fmt(eqSsimBytes / ffBytes)}x FFmpeg's bytes (SSIM-Y ${fmt(eqSsim.y, 4)})`);
  return { total: med('sharp') / base, encode: median(shEncode) / baseEnc };
}

async function main() {
  ffmpegPath = findOnPath('ffmpeg');
  if (!ffmpegPath) throw new Error('ffmpeg not on PATH');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpser-bench-jpeg-'));
  const started = Date.now();
  try {
    const results = [];
    for (const size of SIZES) results.push(await bench(dir, size));
    console.log(`\nraw → sharp over FFmpeg's own encoder, whole pipeline: ${results.map((r) => fmt(r.total)).join(' / ')}x CPU ` +
      `(${SIZES.map((s) => `${s.height}p`).join(' / ')}); encoders alone: ${results.map((r) => fmt(r.encode)).join(' / ')}x`);
    console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s)`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

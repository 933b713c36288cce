'use strict';
// Synthetic camera scenes rendered by FFmpeg's lavfi sources at test time, with known ground truth.
const { spawn } = require('node:child_process');

const FPS = 10;
const W = 320;
const H = 240;

// A still, textured scene: the first testsrc frame held (testsrc itself scrolls, which would be motion).
const STILL = `testsrc=s=${W}x${H}:r=${FPS},trim=end_frame=1,loop=loop=-1:size=1:start=0,setpts=N/${FPS}/TB,format=yuv420p`;

/** A box of size s, moving along y=row, from frame n0 to n1 inclusive, x from x0 at speed px/frame. */
function movingBox({ n0, n1, x0 = 10, speed = 5, y = 100, size = 40, color = 'black' }) {
  return {
    inputs: `color=c=${color}:s=${size}x${size}:r=${FPS}`,
    overlay: `overlay=x='${x0}+(n-${n0})*${speed}':y=${y}:enable='between(n,${n0},${n1})':eof_action=pass`,
  };
}

/**
 * Filter graph for a scene.
 * opts.base: 'still' (default) or 'gray' (flat mid gray); opts.box: movingBox args; opts.post: extra filters
 * after the overlay (light changes); opts.noise: temporal noise strength (default 6, sensor-like).
 */
function sceneGraph(opts = {}) {
  const base = opts.base === 'gray' ? `color=c=0x808080:s=${W}x${H}:r=${FPS},format=yuv420p` : STILL;
  const noise = opts.noise === undefined ? 6 : opts.noise;
  let graph;
  if (opts.box) {
    const b = movingBox(opts.box);
    graph = `${base}[bg];${b.inputs}[box];[bg][box]${b.overlay}`;
  } else {
    graph = base;
  }
  if (opts.post) graph += `,${opts.post}`;
  if (noise > 0) graph += `,noise=alls=${noise}:allf=t`;
  return graph;
}

function runFfmpeg(args) {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks = [];
    let err = '';
    child.stdout.on('data', (c) => chunks.push(c));
    child.stderr.on('data', (c) => { err += c; if (err.length > 20000) err = err.slice(-10000); });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`ffmpeg exited ${code}: ${err.slice(-2000)}`));
      else resolve(Buffer.concat(chunks));
    });
  });
}

/** Gray frames at width x height (default 240x180), as an array of Buffers (views of one Buffer). */
async function grayFrames(opts = {}, frames = 100, width = 240, height = 180) {
  const buf = await runFfmpeg(['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', sceneGraph(opts),
    '-frames:v', String(frames), '-vf', `scale=${width}:${height},format=gray`, '-f', 'rawvideo', 'pipe:1']);
  const size = width * height;
  const out = [];
  for (let o = 0; o + size <= buf.length; o += size) out.push(buf.subarray(o, o + size));
  return out;
}

/** Full-size JPEG frames of the same scene (for the sharp decoding path). */
async function jpegFrames(opts = {}, frames = 100) {
  const buf = await runFfmpeg(['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', sceneGraph(opts),
    '-frames:v', String(frames), '-q:v', '5', '-f', 'mjpeg', 'pipe:1']);
  return splitJpegs(buf);
}

/** Splits concatenated JPEGs (FFmpeg's mjpeg muxer output) at SOI/EOI markers. */
function splitJpegs(buf) {
  const out = [];
  let start = -1;
  for (let i = 0; i + 1 < buf.length; i++) {
    if (buf[i] !== 0xff) continue;
    if (buf[i + 1] === 0xd8 && start < 0) start = i;
    else if (buf[i + 1] === 0xd9 && start >= 0) { out.push(buf.subarray(start, i + 2)); start = -1; i++; }
  }
  return out;
}

/** Runs the detector + event logic over frames; returns events with frame numbers. */
function runCore(core, frames, { detectorOptions = {}, eventOptions = {}, width = 240, height = 180 } = {}) {
  const det = new core.MotionDetector(detectorOptions);
  const ev = new core.MotionEvents({ startFrames: 3, quietMs: 1000, cooldownMs: 500, ...eventOptions });
  const events = [];
  const perFrame = [];
  frames.forEach((f, n) => {
    const time = n * (1000 / FPS);
    const r = det.detect(f, width, height);
    perFrame.push({ motion: r.motion, area: r.changedArea, global: r.globalChange, regions: r.regions.map((x) => ({ ...x })) });
    const e = ev.frame(r.motion, time, r.score);
    if (e) events.push({ kind: e.kind, frame: n, regions: r.regions.map((x) => ({ ...x })), bbox: r.bbox && { ...r.bbox } });
  });
  return { events, perFrame };
}

module.exports = { FPS, W, H, sceneGraph, grayFrames, jpegFrames, splitJpegs, runCore, runFfmpeg };

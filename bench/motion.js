'use strict';
// Motion detection cost per frame: ours (background model + light compensation + noise filter + regions)
// against pam-diff fed by pipe2pam (frame-to-frame diff, native pixel-change engine on the libuv pool),
// pixel-change called directly, and a plain JS frame-to-frame diff loop, on the same FFmpeg frames.
// Rounds are interleaved so machine noise hits every contender alike; medians and ratios are printed.
// "ours (before)" is the detector before its WebAssembly kernel (bench/reference/), timed in the same
// rounds so the before/after figures come from the same machine state.
// Usage: node bench/motion.js [rounds] [passes]   (needs `npm run build` first)
const { spawn } = require('node:child_process');
const { MotionDetector } = require('../dist/core/motion/detector.js');
const { MotionDetector: MotionDetectorBefore } = require('./reference/motion-detector-before.js');
const { parseRegions } = require('../dist/core/motion/roi.js');
const { PgmSplitter } = require('../dist/core/jpeg/pgm-splitter.js');
const P2P = require('pipe2pam');
const PamDiff = require('pam-diff');
const PC = require('pixel-change');
const { median } = require('./lib/measure.js');

const ROUNDS = Number(process.argv[2]) || 7;
// Each timed run plays the clip this many times through one detector: a camera runs for hours, and a run of a few
// milliseconds is mostly timer and GC noise on a shared machine. Every contender gets the same number of frames.
const PASSES = Number(process.argv[3]) || 12;
const FRAMES = 150;
const THRESHOLD = Math.round(0.08 * 255);

// A realistic-looking still (testsrc) with sensor noise and a box crossing it.
const GRAPH = 'testsrc=s=640x480:r=10,trim=end_frame=1,loop=loop=-1:size=1:start=0,setpts=N/10/TB,format=yuv420p[bg];' +
  "color=c=black:s=60x60:r=10[box];[bg][box]overlay=x='20+(n-40)*6':y=200:enable='between(n,40,110)',noise=alls=6:allf=t";

function ffmpeg(args) {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', GRAPH, '-frames:v', String(FRAMES), ...args]);
    const chunks = [];
    child.stdout.on('data', (c) => chunks.push(c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`ffmpeg ${code}`))));
  });
}

function cpuMs(start) {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1000;
}

// Ours reads FFmpeg's PGM output through our PgmSplitter, as pam-diff reads PAM through pipe2pam: both pay their
// parsing, both get the bytes in the same pipe-sized chunks.
function ours(pgmStream, frameCount, regions, Detector = MotionDetector) {
  const det = new Detector({ regions });
  let events = 0;
  let seen = 0;
  const splitter = new PgmSplitter({
    onFrame: (data, w, h) => {
      seen++;
      if (det.detect(data, w, h).motion) events++;
    },
  });
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let p = 0; p < PASSES; p++) for (let o = 0; o < pgmStream.length; o += 65536) splitter.push(pgmStream.subarray(o, o + 65536));
  const n = frameCount * PASSES;
  if (seen !== n) throw new Error(`ours saw ${seen} of ${n} frames`);
  return { wall: Number(process.hrtime.bigint() - t0) / 1e6 / n, cpu: cpuMs(c0) / n, events: events / PASSES };
}

function plainDiff(frames) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let hits = 0;
  for (let f = 1; f < frames.length; f++) {
    const a = frames[f - 1];
    const b = frames[f];
    let n = 0;
    for (let i = 0; i < a.length; i++) {
      let d = a[i] - b[i];
      if (d < 0) d = -d;
      if (d > THRESHOLD) n++;
    }
    if (n > 80) hits++;
  }
  return { wall: Number(process.hrtime.bigint() - t0) / 1e6 / (frames.length - 1), cpu: cpuMs(c0) / (frames.length - 1), events: hits };
}

async function pixelChange(frames, w, h) {
  const engine = PC({ width: w, height: h, depth: 1, response: 'percent', difference: THRESHOLD, percent: 1 });
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let hits = 0;
  for (let f = 1; f < frames.length; f++) {
    const data = await new Promise((resolve, reject) => engine.compare(frames[f - 1], frames[f], (err, d) => (err ? reject(err) : resolve(d))));
    if (data.results.length) hits++;
  }
  return { wall: Number(process.hrtime.bigint() - t0) / 1e6 / (frames.length - 1), cpu: cpuMs(c0) / (frames.length - 1), events: hits };
}

function pamDiff(pamStream, frameCount) {
  const frames = frameCount * PASSES;
  return new Promise((resolve) => {
    const p2p = new P2P();
    const diff = new PamDiff({ difference: THRESHOLD, percent: 1 });
    let seen = 0;
    let hits = 0;
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    diff.on('data', (d) => {
      if (d.trigger.length) hits++;
      if (++seen === frames - 1) {
        resolve({ wall: Number(process.hrtime.bigint() - t0) / 1e6 / seen, cpu: cpuMs(c0) / seen, events: hits / PASSES });
      }
    });
    p2p.pipe(diff);
    // Written in pipe-sized chunks, as FFmpeg's stdout would deliver them.
    for (let p = 0; p < PASSES; p++) for (let o = 0; o < pamStream.length; o += 65536) p2p.write(pamStream.subarray(o, o + 65536));
  });
}

async function sizeRun(w, h) {
  const raw = await ffmpeg(['-vf', `scale=${w}:${h},format=gray`, '-f', 'rawvideo', 'pipe:1']);
  const pam = await ffmpeg(['-vf', `scale=${w}:${h}`, '-pix_fmt', 'gray', '-c:v', 'pam', '-f', 'image2pipe', 'pipe:1']);
  const pgm = await ffmpeg(['-vf', `scale=${w}:${h}`, '-pix_fmt', 'gray', '-c:v', 'pgm', '-f', 'image2pipe', 'pipe:1']);
  const frames = [];
  for (let o = 0; o + w * h <= raw.length; o += w * h) frames.push(raw.subarray(o, o + w * h));
  const regions = parseRegions([
    { name: 'yard', points: [[0, 0.3], [1, 0.3], [1, 1], [0, 1]] },
    { name: 'door', points: [[0.6, 0], [0.9, 0], [0.9, 0.5], [0.6, 0.5]] },
    { name: 'tree', type: 'exclude', points: [[0.8, 0.6], [1, 0.6], [1, 1], [0.8, 1]] },
  ]);
  const res = { ours: [], oursRegions: [], before: [], beforeRegions: [], pamDiff: [], pixelChange: [], plain: [] };
  let ev = {};
  for (let r = 0; r < ROUNDS + 1; r++) {
    const round = {
      ours: ours(pgm, frames.length, []),
      oursRegions: ours(pgm, frames.length, regions),
      before: ours(pgm, frames.length, [], MotionDetectorBefore),
      beforeRegions: ours(pgm, frames.length, regions, MotionDetectorBefore),
      pamDiff: await pamDiff(pam, frames.length),
      pixelChange: await pixelChange(frames, w, h),
      plain: plainDiff(frames),
    };
    if (r === 0) continue; // warm-up round: JIT and thread pool
    for (const k of Object.keys(res)) res[k].push(round[k]);
    ev = Object.fromEntries(Object.entries(round).map(([k, v]) => [k, v.events]));
  }
  return { w, h, frames: frames.length, res, ev };
}

(async () => {
  const rows = [];
  for (const [w, h] of [[240, 180], [320, 240]]) {
    const { res, frames, ev } = await sizeRun(w, h);
    const base = median(res.pamDiff.map((x) => x.cpu));
    for (const [name, label] of [['ours', 'ours, whole frame'], ['oursRegions', 'ours, 2 regions + exclude'],
      ['before', 'ours (before), whole frame'], ['beforeRegions', 'ours (before), 2 regions + exclude'], ['pamDiff', 'pam-diff + pipe2pam'],
      ['pixelChange', 'pixel-change direct'], ['plain', 'plain JS diff']]) {
      const cpu = median(res[name].map((x) => x.cpu));
      const wall = median(res[name].map((x) => x.wall));
      rows.push({ size: `${w}x${h}`, contender: label, 'cpu ms/frame': cpu.toFixed(4), 'wall ms/frame': wall.toFixed(4),
        'cpu vs pam-diff': (cpu / base).toFixed(2) + 'x', 'motion frames': `${ev[name]}/${frames}` });
    }
  }
  process.stdout.write(`motion detection cost per frame, median of ${ROUNDS} interleaved rounds of ${PASSES} passes over the clip, node ${process.version}\n`);
  process.stdout.write('ours and pam-diff include parsing FFmpeg\'s output (PgmSplitter / pipe2pam); pixel-change and plain JS get split frames. motion frames: per pass.\n');
  console.table(rows);
})().catch((err) => { process.stderr.write(String(err && err.stack || err) + '\n'); process.exit(1); });

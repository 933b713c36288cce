'use strict';
// Whole-pipeline CPU of motion detection for a 1280x720, 10 fps camera (a lavfi test pattern, paced with -re).
//   ours:     one FFmpeg writes JPEG (pipe:1) and small gray PGM frames (pipe:3, the ffmpeg-source's second output);
//             Node splits both and runs the detector on the gray frames. No JPEG is decoded.
//   baseline: FFmpeg writes JPEG only; Node splits it and decodes + shrinks every JPEG with sharp to the same gray
//             size, then runs the same detector (what a motion node without the second output has to do).
// CPU: FFmpeg child from /proc/<pid>/stat (utime+stime), Node from process.cpuUsage() (includes libvips threads).
//   split-only: FFmpeg writes JPEG only and Node only splits it: the pipeline without motion detection.
// Motion-attributable CPU per frame, against split-only:
//   ours = (FFmpeg(ours) - FFmpeg(JPEG only)) + (Node(ours) - Node(split-only));  baseline = Node(baseline) - Node(split-only).
// Usage: node bench/motion-pipeline.js [secondsPerRun]   (needs `npm run build` first; rounds interleave ours/baseline)
const { spawn } = require('node:child_process');
const sharp = require('sharp');
const { buildArgs } = require('../dist/core/ffmpeg/args.js');
const { MultipartJpegSplitter } = require('../dist/core/jpeg/multipart-splitter.js');
const { PgmSplitter } = require('../dist/core/jpeg/pgm-splitter.js');
const { MotionDetector } = require('../dist/core/motion/detector.js');
const { pidCpuMs } = require('./lib/measure.js');

const SECONDS = Number(process.argv[2]) || 10;
const ROUNDS = 2;
const CAMERA = 'testsrc2=size=1280x720:rate=10';
const BOX = { width: 240, height: 180 };

function run(mode) {
  const gray = mode === 'gray';
  return new Promise((resolve, reject) => {
    const args = buildArgs({ source: CAMERA, fps: 10, quality: 5, ...(gray ? { gray: BOX } : {}) });
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    const det = new MotionDetector();
    let jpegs = 0;
    let analysed = 0;
    let decoding = false;
    let dropped = 0;
    let started = false;
    let c0;
    let f0 = 0;
    let t0 = 0;
    const begin = () => {
      // Measure from the first frame on: process start-up is not per-frame cost.
      started = true;
      c0 = process.cpuUsage();
      f0 = pidCpuMs(child.pid);
      t0 = Date.now();
      setTimeout(finish, SECONDS * 1000);
    };
    const jpegSplitter = new MultipartJpegSplitter({
      onFrame: (jpeg) => {
        if (!started) return begin();
        jpegs++;
        if (mode !== 'decode') return;
        if (decoding) {
          dropped++;
          return;
        }
        decoding = true;
        sharp(jpeg).resize(BOX.width, BOX.height, { fit: 'inside', fastShrinkOnLoad: true }).toColourspace('b-w').raw()
          .toBuffer({ resolveWithObject: true })
          .then(({ data, info }) => {
            decoding = false;
            det.detect(data, info.width, info.height);
            analysed++;
          }, reject);
      },
    });
    const pgmSplitter = new PgmSplitter({
      onFrame: (data, w, h) => {
        if (!started) return;
        det.detect(data, w, h);
        analysed++;
      },
    });
    child.stdout.on('data', (c) => jpegSplitter.push(c));
    child.stdio[3].on('data', (c) => pgmSplitter.push(c));
    let err = '';
    child.stderr.on('data', (c) => { err += c; });
    child.on('error', reject);
    function finish() {
      const ffmpeg = pidCpuMs(child.pid) - f0;
      const u = process.cpuUsage(c0);
      const node = (u.user + u.system) / 1000;
      const wall = Date.now() - t0;
      child.once('close', () => resolve({ mode, jpegs, analysed, dropped, ffmpeg, node, wall }));
      child.kill('SIGTERM');
    }
    child.once('close', (code) => { if (!started) reject(new Error(`ffmpeg exited ${code}: ${err}`)); });
  });
}

(async () => {
  const ours = [];
  const base = [];
  const split = [];
  for (let r = 0; r < ROUNDS; r++) {
    ours.push(await run('gray'));
    base.push(await run('decode'));
    split.push(await run('split'));
  }
  const sum = (list, k) => list.reduce((a, x) => a + x[k], 0);
  const per = (list) => ({
    frames: sum(list, 'jpegs'),
    analysed: sum(list, 'analysed'),
    ffmpeg: sum(list, 'ffmpeg') / sum(list, 'jpegs'),
    node: sum(list, 'node') / sum(list, 'jpegs'),
    wall: sum(list, 'wall'),
  });
  const o = per(ours);
  const b = per(base);
  const sp = per(split);
  // FFmpeg does the same work in the baseline and split-only runs (JPEG only): average them.
  const ffJpegOnly = (b.ffmpeg + sp.ffmpeg) / 2;
  const motionOurs = o.ffmpeg - ffJpegOnly + (o.node - sp.node);
  const motionBase = b.node - sp.node;
  const core = (msPerFrame) => `${((msPerFrame * 10) / 10).toFixed(1)}%`; // 10 fps: ms/frame * 10 per 1000 ms
  process.stdout.write(`motion pipeline CPU, ${CAMERA}, JPEG q5, gray box ${BOX.width}x${BOX.height}, ${ROUNDS} interleaved rounds of ${SECONDS} s each, node ${process.version}\n`);
  console.table([
    { pipeline: 'ours: JPEG + gray 2nd output', frames: o.frames, analysed: o.analysed, 'FFmpeg ms/frame': o.ffmpeg.toFixed(2), 'Node ms/frame': o.node.toFixed(2), 'total ms/frame': (o.ffmpeg + o.node).toFixed(2), 'motion ms/frame': motionOurs.toFixed(2), 'motion % of a core': core(motionOurs) },
    { pipeline: 'baseline: JPEG only + sharp decode', frames: b.frames, analysed: b.analysed, 'FFmpeg ms/frame': b.ffmpeg.toFixed(2), 'Node ms/frame': b.node.toFixed(2), 'total ms/frame': (b.ffmpeg + b.node).toFixed(2), 'motion ms/frame': motionBase.toFixed(2), 'motion % of a core': core(motionBase) },
    { pipeline: 'split-only: JPEG, no motion', frames: sp.frames, analysed: sp.analysed, 'FFmpeg ms/frame': sp.ffmpeg.toFixed(2), 'Node ms/frame': sp.node.toFixed(2), 'total ms/frame': (sp.ffmpeg + sp.node).toFixed(2), 'motion ms/frame': '-', 'motion % of a core': '-' },
  ]);
  process.stdout.write(`motion CPU cut: ${((1 - motionOurs / motionBase) * 100).toFixed(0)}% (ours ${motionOurs.toFixed(2)} ms vs baseline ${motionBase.toFixed(2)} ms per frame, ratio ${(motionOurs / motionBase).toFixed(2)}x); whole pipeline cut: ${((1 - (o.ffmpeg + o.node) / (b.ffmpeg + b.node)) * 100).toFixed(0)}%\n`);
})().catch((err) => { process.stderr.write(String(err && err.stack || err) + '\n'); process.exit(1); });

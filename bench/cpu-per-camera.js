'use strict';
// CPU per camera for an H.264 1280x720 10 fps camera (a file made at bench time, played in real time and looped)
// watched by motion detection all day and by a viewer now and then, through the real pool and stream (FFmpeg and
// Node together: FFmpeg from /proc/<pid>/stat, Node from process.cpuUsage(), detector included).
//   before:        what a camera with motion cost before outputs followed demand: every frame encoded as JPEG + gray.
//   motion only:   ours with no viewer: gray every frame, JPEG at the low rate for stills and snapshots (0.5 fps by
//                  default; 1 fps shown too).
//   one viewer:    ours while someone watches: every frame as JPEG + gray.
//   floor:         FFmpeg decoding the same file and nothing else.
//   detect stream: JPEG at the low rate from the 720p main stream, gray from a 640x360 sub-stream, against gray
//                  from the main stream (motion only, above).
// Also: after a viewer asks, how long until full-rate frames flow (a new process starts beside the old one) and the
// longest gap between gray frames meanwhile, for the file (which starts on a keyframe) and for a live camera: the
// same H.264 (keyframe every 2 s) sent over HTTP as MPEG-TS in real time, where a new connection joins mid-GOP.
// Usage: node bench/cpu-per-camera.js [secondsPerRun]   (needs `npm run build` first)
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { ProcessPool } = require('../dist/core/stream/pool.js');
const { MotionDetector } = require('../dist/core/motion/detector.js');
const { pidCpuMs } = require('./lib/measure.js');
const { liveCamera } = require('../test/helpers/live-camera.js');

/** A process that has gone counts nothing more. */
const cpuOf = (pid) => pidCpuMs(pid) ?? 0;

const SECONDS = Number(process.argv[2]) || 8;
const ROUNDS = 3;
const WARMUP_MS = 2500;
const BOX = { width: 240, height: 180 };

function makeClip(dir, size, name) {
  const file = path.join(dir, `${name}.mp4`);
  // A camera-like stream: moving content, a keyframe every 2 s, no B-frames.
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=10`, '-t', '20',
    '-c:v', 'libx264', '-preset', 'veryfast', '-g', '20', '-bf', '0', '-pix_fmt', 'yuv420p', file]);
  return file;
}

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs one configuration for SECONDS after a warm-up and returns CPU ms per second of camera. */
async function measure(label, setup, poolOptions = {}) {
  const pool = new ProcessPool({ idleGraceMs: 0, ...poolOptions });
  const stream = pool.stream('cam');
  const detector = new MotionDetector();
  let grays = 0;
  stream.on('frame', (f) => {
    const g = f.gray['240x180'];
    if (g) {
      detector.detect(g.data, g.width, g.height);
      grays++;
    }
  });
  setup(stream);
  await delay(WARMUP_MS);
  const pids = pool.captures().map((c) => c.stats().pid).filter(Boolean);
  const f0 = pids.map(cpuOf);
  const c0 = process.cpuUsage();
  const g0 = grays;
  await delay(SECONDS * 1000);
  const ffmpeg = pids.map(cpuOf).reduce((a, v, i) => a + v - f0[i], 0);
  const u = process.cpuUsage(c0);
  const node = (u.user + u.system) / 1000;
  await pool.close();
  return { label, ffmpeg: ffmpeg / SECONDS, node: node / SECONDS, total: (ffmpeg + node) / SECONDS, grays: (grays - g0) / SECONDS, processes: pids.length };
}

async function floor(file) {
  // Decode only, in real time: FFmpeg's CPU for the same seconds.
  const { spawn } = require('node:child_process');
  const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', file, '-f', 'null', '-'], { stdio: 'ignore' });
  await delay(WARMUP_MS);
  const f0 = cpuOf(child.pid);
  await delay(SECONDS * 1000);
  const ms = cpuOf(child.pid) - f0;
  await new Promise((r) => {
    child.once('close', r);
    child.kill('SIGTERM');
  });
  return { label: 'floor: decode only', ffmpeg: ms / SECONDS, node: 0, total: ms / SECONDS, grays: 0, processes: 1 };
}

/** A viewer arrives while motion runs: time until every frame carries a JPEG, and the longest gray gap meanwhile. */
async function switchTimes(capture) {
  const pool = new ProcessPool({ idleGraceMs: 0 });
  const stream = pool.stream('cam');
  stream.define('src', { capture: { fps: 10, quality: 5, ...capture }, lowFps: 0.5 });
  stream.use('motion', { gray: BOX });
  await delay(capture.loop ? WARMUP_MS : 2 * WARMUP_MS);
  let lastGray = performance.now();
  let maxGap = 0;
  let run = 0;
  let latestAt;
  const t0 = performance.now();
  let fullAt;
  await new Promise((resolve) => {
    stream.on('frame', (f) => {
      const now = performance.now();
      if (f.gray['240x180']) {
        maxGap = Math.max(maxGap, now - lastGray);
        lastGray = now;
      }
      run = f.jpeg ? run + 1 : 0;
      if (run >= 3 && fullAt === undefined) {
        fullAt = now - t0;
        resolve();
      }
    });
    // The viewer's first picture: the newest JPEG the stream has (the low-rate one), at once.
    latestAt = stream.latest() ? performance.now() - t0 : undefined;
    stream.use('viewer', { run: true, jpeg: 'full' });
  });
  await pool.close();
  return { latestAt, fullAt, maxGap };
}

(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpser-cpu-'));
  try {
    const main = makeClip(dir, '1280x720', 'main');
    const sub = makeClip(dir, '640x360', 'sub');
    const capture = { source: main, fps: 10, quality: 5, loop: true };
    const runs = { before: [], motion: [], motion1: [], viewer: [], detect: [], floor: [] };
    for (let r = 0; r < ROUNDS; r++) {
      // As it ran before: every frame encoded, and FFmpeg's own choice of decoder threads.
      runs.before.push(await measure('before: every frame JPEG + gray', (s) => {
        s.define('src', { capture, lowFps: 0 });
        s.use('motion', { gray: BOX });
      }, { decoderThreads: 0 }));
      runs.motion.push(await measure('ours, motion only: gray + 0.5 fps JPEG (default)', (s) => {
        s.define('src', { capture, lowFps: 0.5 });
        s.use('motion', { gray: BOX });
      }));
      runs.motion1.push(await measure('ours, motion only: gray + 1 fps JPEG', (s) => {
        s.define('src', { capture, lowFps: 1 });
        s.use('motion', { gray: BOX });
      }));
      runs.viewer.push(await measure('ours, one viewer: every frame JPEG + gray', (s) => {
        s.define('src', { capture, lowFps: 0.5 });
        s.use('motion', { gray: BOX });
        s.use('viewer', { run: true, jpeg: 'full' });
      }));
      runs.detect.push(await measure('ours, detect stream 640x360: gray + 0.5 fps JPEG, both from the sub-stream', (s) => {
        s.define('src', { capture, lowFps: 0.5, detect: { source: sub, fps: 10, quality: 5, loop: true } });
        s.use('motion', { gray: BOX });
      }));
      runs.floor.push(await floor(main));
    }
    const median = (list, k) => {
      const v = list.map((x) => x[k]).sort((a, b) => a - b);
      return v[Math.floor(v.length / 2)];
    };
    const row = (list) => ({
      run: list[0].label,
      processes: list[0].processes,
      'FFmpeg ms/s': median(list, 'ffmpeg').toFixed(0),
      'Node ms/s': median(list, 'node').toFixed(0),
      'total ms/s': median(list, 'total').toFixed(0),
      'ms/frame': (median(list, 'total') / 10).toFixed(2),
      'gray frames/s': median(list, 'grays').toFixed(1),
    });
    process.stdout.write(`CPU per camera, H.264 1280x720 10 fps (keyframe every 2 s), gray ${BOX.width}x${BOX.height}, ${ROUNDS} interleaved rounds of ${SECONDS} s, medians, node ${process.version}\n`);
    console.table(Object.values(runs).map(row));
    const total = (k) => median(runs[k], 'total');
    process.stdout.write(`motion only vs before: ${(total('motion') / total('before')).toFixed(2)}x (target <= 0.45x); with 1 fps stills ${(total('motion1') / total('before')).toFixed(2)}x\n`);
    process.stdout.write(`one viewer vs before: ${(total('viewer') / total('before')).toFixed(2)}x; floor vs before: ${(total('floor') / total('before')).toFixed(2)}x\n`);
    process.stdout.write(`detect stream vs gray from the main stream: ${(total('detect') / total('motion')).toFixed(2)}x\n`);
    const arrivals = async (label, capture, rounds) => {
      const sw = [];
      for (let r = 0; r < rounds; r++) sw.push(await switchTimes(capture));
      const med = (k) => median(sw, k);
      const range = (k) => `${Math.min(...sw.map((x) => x[k])).toFixed(0)}-${Math.max(...sw.map((x) => x[k])).toFixed(0)}`;
      process.stdout.write(`a viewer arrives, ${label}: latest picture ${sw.every((s) => s.latestAt !== undefined) ? 'at once (the low-rate JPEG)' : 'not always there'}; ` +
        `full-rate JPEG after ${med('fullAt').toFixed(0)} ms (median of ${rounds}, ${range('fullAt')}); ` +
        `longest gap between gray frames meanwhile ${med('maxGap').toFixed(0)} ms (${range('maxGap')}; one frame interval is 100 ms)\n`);
    };
    await arrivals('file (starts on a keyframe)', { source: main, loop: true }, ROUNDS);
    const live = await liveCamera(main);
    try {
      // The wait for the next keyframe is anywhere in 0-2 s: more rounds for its median.
      await arrivals('live H.264 over HTTP (keyframe every 2 s, joined mid-GOP)', { source: live.url }, 2 * ROUNDS + 1);
    } finally {
      await live.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
})().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});

'use strict';
// CPU per frame for a camera that already serves MJPEG over HTTP, read two ways:
//   (a) pass-through: MjpegHttpSource (our HTTP client + multipart splitter, the camera's JPEGs as they are) plus
//       decodeGray at 240x180 through a GrayDecoder (sharp shrink-on-load), all in this process;
//   (b) FFmpeg, the way ffmpeg-source reads it today: buildArgs({ kind: 'http', gray: 240x180 }) (decode, JPEG
//       re-encode on pipe:1 as mpjpeg, gray PGM on pipe:3), with this process splitting both pipes as production
//       does (MultipartJpegSplitter, PgmSplitter). FFmpeg 5.1 stamps an MJPEG-over-HTTP input at 25 fps whatever
//       the camera sends, so the fps=10 filter keeps 4 of the camera's 10 frames a second: the baseline is also
//       run with `-use_wallclock_as_timestamps 1` (through buildArgs' extraInputArgs), which delivers all 10, and
//       the ratio is taken against that one (same frames out as ours). "As today" runs one round, for the record.
//   (a0) pass-through alone (no motion consumer: what a camera costs that only viewers watch), for the record.
// The camera is a child process serving the same real 1280x720 JPEGs (FFmpeg testsrc2, -q:v 5) at 10 fps, so
// its CPU is in neither figure. CPU: this process's process.cpuUsage() (all threads, libvips' included), plus
// for (b) FFmpeg's utime+stime from /proc/<pid>/stat. Same window for both; rounds alternate which goes first;
// medians of ms CPU per delivered JPEG frame, and the ratio.
// Run: npm run build && node bench/passthrough.js
const { execFileSync, fork, spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { median, ownCpuMs, pidCpuMs } = require('./lib/measure.js');

const FPS = 10;
const CLIP_FRAMES = 50;
const ROUNDS = 3;
const WARMUP_MS = 1500;
const WINDOW_MS = 3500;
const WALLCLOCK = ['-use_wallclock_as_timestamps', '1'];
const GRAY = { width: 240, height: 180 };
const QUALITY = 5;

if (process.argv[2] === '--camera') {
  camera(process.argv[3]);
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

/** The camera: multipart/x-mixed-replace at FPS, frames looping, one timer per viewer. */
function camera(dir) {
  const frames = fs.readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort().map((f) => fs.readFileSync(path.join(dir, f)));
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace; boundary=myboundary', 'Cache-Control': 'no-cache' });
    let i = 0;
    const t = setInterval(() => {
      const f = frames[i++ % frames.length];
      res.write(`--myboundary\r\nContent-Type: image/jpeg\r\nContent-Length: ${f.length}\r\n\r\n`);
      res.write(f);
      res.write('\r\n');
    }, 1000 / FPS);
    res.on('close', () => clearInterval(t));
  });
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
}

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/** Counts frames and CPU over WINDOW_MS after WARMUP_MS; `extraCpuMs()` adds a child's CPU. */
async function measure(counter, extraCpuMs = () => 0) {
  await delay(WARMUP_MS);
  const f0 = counter.frames;
  const g0 = counter.gray;
  const c0 = ownCpuMs() + extraCpuMs();
  await delay(WINDOW_MS);
  const c1 = ownCpuMs() + extraCpuMs();
  const frames = counter.frames - f0;
  return { frames, gray: counter.gray - g0, cpuMs: c1 - c0, msPerFrame: frames ? (c1 - c0) / frames : NaN };
}

async function passThrough(url, lib, gray = true) {
  const src = new lib.MjpegHttpSource({ url });
  const dec = new lib.GrayDecoder(GRAY);
  const counter = { frames: 0, gray: 0 };
  src.on('frame', (jpeg) => {
    counter.frames++;
    if (!gray) return;
    dec.offer(jpeg).then((g) => {
      if (g) counter.gray++;
    }, (err) => {
      throw err;
    });
  });
  src.start();
  try {
    const r = await measure(counter);
    return { ...r, dropped: dec.stats.dropped, decodeMs: dec.stats.lastMs };
  } finally {
    await src.stop();
  }
}

async function viaFfmpeg(url, lib, extraInputArgs) {
  const args = lib.buildArgs({ source: url, kind: 'http', fps: FPS, quality: QUALITY, gray: GRAY, extraInputArgs });
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  const counter = { frames: 0, gray: 0 };
  const jpeg = new lib.MultipartJpegSplitter({ onFrame: () => counter.frames++ });
  const pgm = new lib.PgmSplitter({ onFrame: () => counter.gray++ });
  let stderr = '';
  child.stdout.on('data', (c) => jpeg.push(c));
  child.stdio[3].on('data', (c) => pgm.push(c));
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  const exited = new Promise((r) => child.on('close', r));
  try {
    const r = await measure(counter, () => pidCpuMs(child.pid));
    if (r.frames === 0) throw new Error(`FFmpeg produced no frame: ${stderr.trim()}`);
    return r;
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

async function main() {
  const dist = path.join(__dirname, '..', 'dist', 'core');
  const lib = {
    ...require(path.join(dist, 'capture', 'mjpeg-http-source.js')),
    ...require(path.join(dist, 'jpeg', 'jpeg-gray.js')),
    ...require(path.join(dist, 'ffmpeg', 'args.js')),
    ...require(path.join(dist, 'jpeg', 'multipart-splitter.js')),
    ...require(path.join(dist, 'jpeg', 'pgm-splitter.js')),
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpser-bench-pt-'));
  let cam;
  try {
    // Each frame differs (testsrc2 moves), like a camera's.
    execFileSync('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=${FPS}`,
      '-frames:v', String(CLIP_FRAMES), '-q:v', String(QUALITY), path.join(dir, 'f-%03d.jpg')]);
    const sizes = fs.readdirSync(dir).map((f) => fs.statSync(path.join(dir, f)).size);
    cam = fork(__filename, ['--camera', dir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const { port } = await new Promise((resolve, reject) => {
      cam.once('message', resolve);
      cam.once('exit', (code) => reject(new Error(`camera exited (${code})`)));
    });
    const url = `http://127.0.0.1:${port}/video.mjpg`;
    console.log(`camera: ${CLIP_FRAMES} JPEGs 1280x720 -q:v ${QUALITY} (median ${Math.round(median(sizes) / 1024)} KiB) at ${FPS} fps on ${url}, a child process`);
    console.log(`window ${WINDOW_MS / 1000} s after ${WARMUP_MS / 1000} s warm-up, ${ROUNDS} rounds rotating the order, gray ${GRAY.width}x${GRAY.height}`);
    const ways = [
      { key: 'wallclock', label: 'FFmpeg + -use_wallclock_as_timestamps 1', run: () => viaFfmpeg(url, lib, WALLCLOCK) },
      { key: 'pass', label: 'pass-through + decodeGray (ours)', run: () => passThrough(url, lib) },
      { key: 'alone', label: 'pass-through alone, no motion (ours)', run: () => passThrough(url, lib, false) },
      { key: 'ffmpeg', label: 'FFmpeg, buildArgs as today', run: () => viaFfmpeg(url, lib, []), once: true },
    ];
    const rows = Object.fromEntries(ways.map((w) => [w.key, []]));
    for (let round = 0; round < ROUNDS; round++) {
      const todo = ways.filter((w) => !w.once || round === ROUNDS - 1);
      for (let k = 0; k < todo.length; k++) {
        const w = todo[(k + round) % todo.length];
        const r = await w.run();
        rows[w.key].push(r);
        const extra = w.key === 'pass' ? `, ${r.dropped} dropped while busy, last decode ${r.decodeMs.toFixed(1)} ms` : '';
        console.log(`  round ${round + 1} ${w.label.padEnd(40)}: ${r.frames} JPEG, ${r.gray} gray, CPU ${r.cpuMs.toFixed(0)} ms = ${r.msPerFrame.toFixed(2)} ms/frame${extra}`);
      }
    }
    const med = (key, f) => median(rows[key].map(f));
    console.log('');
    console.log('| way (1280x720 MJPEG camera at 10 fps, gray 240x180)  | CPU ms/frame | CPU ms/s | JPEG frames/s | rounds |');
    console.log('|------------------------------------------------------|-------------:|---------:|--------------:|-------:|');
    for (const w of ways) {
      const perFrame = med(w.key, (r) => r.msPerFrame);
      const perSecond = med(w.key, (r) => r.cpuMs) / (WINDOW_MS / 1000);
      const fps = med(w.key, (r) => r.frames) / (WINDOW_MS / 1000);
      console.log(`| ${w.label.padEnd(52)} | ${perFrame.toFixed(2).padStart(12)} | ${perSecond.toFixed(0).padStart(8)} | ${fps.toFixed(1).padStart(13)} | ${String(rows[w.key].length).padStart(6)} |`);
    }
    const ours = med('pass', (r) => r.msPerFrame);
    console.log(`ratio, CPU per frame, FFmpeg (all 10 frames, wallclock) / pass-through + decodeGray: ${(med('wallclock', (r) => r.msPerFrame) / ours).toFixed(1)}x ` +
      `(medians of ${ROUNDS}); FFmpeg / pass-through alone: ${(med('wallclock', (r) => r.msPerFrame) / med('alone', (r) => r.msPerFrame)).toFixed(0)}x`);
  } finally {
    cam?.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

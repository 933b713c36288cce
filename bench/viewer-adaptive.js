'use strict';
// Adaptive viewer rates, two figures, each against its baseline measured in the same run:
//
// A. Bandwidth per viewer on a mostly static scene, motion-aware rate on vs off. One camera (lavfi: a still
//    640x360 scene with sensor noise; a figure crosses it for 2 s every 20 s), our pool + stream + endpoint, and
//    the motion detector on the stream's gray output telling the stream what it sees (as motion-detect does;
//    "end after" 2 s). Two loopback viewers at the same time: a plain one (every frame, the baseline) and a
//    motion-aware one (?idlefps=2). Figure: bytes per second each received; ratio aware/plain.
//
// B. CPU with every viewer slow, adaptive demand on vs off. A 1280x720 10 fps H.264 file (looped), decoded and
//    encoded to JPEG q5 by our FFmpeg; three viewers that each read at most 250 KB/s (about 2-3 of the 10 frames
//    a second), in a child process so their CPU is not counted. Off (the baseline): the endpoint asks for every
//    frame while anyone watches. On: it asks for what the viewers take. Figure: FFmpeg + server process CPU
//    (ms per second) over 4 s windows after a warm-up that lets the lower rate take over (pool idle grace 2 s;
//    the default 10 s only delays that), median of the windows; ratio on/off. Frames each viewer received per
//    second are printed beside it, so a cut in CPU that starved the viewers would show.
//
// Run: npm run build && node bench/viewer-adaptive.js   [--quick: shorter runs] [--only bandwidth|cpu]
const { execFileSync, fork } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { median, ownCpuMs, pidCpuMs } = require('./lib/measure.js');

const QUICK = process.argv.includes('--quick');

if (process.argv[2] === '--clients') {
  runClients();
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/** A loopback viewer counting bytes and parts (boundary lines), reading at most `bytesPerSec` when given. */
function viewer(url, bytesPerSec) {
  const v = { bytes: 0, parts: 0, close: () => {} };
  const marker = Buffer.from('--glimpserframe\r\n');
  let tail = Buffer.alloc(0);
  const req = http.get(url, { agent: false }, (res) => {
    res.on('data', (c) => {
      v.bytes += c.length;
      const hay = Buffer.concat([tail, c]);
      for (let i = hay.indexOf(marker); i >= 0; i = hay.indexOf(marker, i + 1)) v.parts++;
      tail = hay.subarray(Math.max(0, hay.length - marker.length + 1));
      if (bytesPerSec) {
        res.pause();
        setTimeout(() => res.resume(), (c.length / bytesPerSec) * 1000);
      }
    });
    res.on('error', () => {});
  });
  req.on('error', () => {});
  v.close = () => req.destroy();
  return v;
}

/** Child process: slow viewers, so their CPU stays out of the server's figure. */
function runClients() {
  let list = [];
  process.on('message', (m) => {
    if (m.open) list = Array.from({ length: m.open.n }, () => viewer(m.open.url, m.open.bytesPerSec));
    if (m.report) process.send({ report: list.map((v) => ({ bytes: v.bytes, parts: v.parts })) });
    if (m.close) {
      for (const v of list) v.close();
      process.exit(0);
    }
  });
}

async function serve(endpoint) {
  const server = http.createServer((req, res) => endpoint.serveStream(req, res));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${server.address().port}/s.mjpg` };
}

function pipeline({ source, fps, adaptive, motion }) {
  const { ProcessPool } = require('../dist/core/stream/pool.js');
  const { MjpegEndpoint } = require('../dist/core/serve/mjpeg-endpoint.js');
  const pool = new ProcessPool({ idleGraceMs: 2000 });
  const stream = pool.stream('bench');
  const endpoint = new MjpegEndpoint({ name: 'bench', consumerId: 'out', maxViewers: 100, maxPerAddress: 100, stallTimeoutMs: 60000, stillTimeoutMs: 5000, adaptive });
  stream.define('src', { capture: { source, fps, quality: 5, loop: true }, lowFps: 1 });
  endpoint.setSource(stream);
  let onMotion;
  stream.on('frame', (f) => {
    if (f.jpeg) endpoint.frame(f.jpeg, f.seq, f.time, f.thumbs);
    if (onMotion) onMotion(f);
  });
  const timers = [];
  if (motion) {
    const { MotionDetector } = require('../dist/core/motion/detector.js');
    const { MotionEvents } = require('../dist/core/motion/events.js');
    const detector = new MotionDetector();
    const events = new MotionEvents({ quietMs: 2000 });
    motion.on = 0;
    let since;
    const report = (ev) => {
      if (!ev) return;
      stream.reportMotion('motion', ev.kind === 'start');
      if (ev.kind === 'start') since = Date.now();
      else if (since !== undefined) {
        motion.on += Date.now() - since;
        since = undefined;
      }
    };
    stream.use('motion', { gray: { width: 240, height: 180 } });
    stream.reportMotion('motion', false);
    onMotion = (f) => {
      const g = f.gray['240x180'];
      if (!g) return;
      const r = detector.detect(g.data, g.width, g.height);
      report(events.frame(r.motion, f.time, r.score));
    };
    timers.push(setInterval(() => report(events.tick(Date.now())), 500));
    motion.finish = () => {
      if (since !== undefined) motion.on += Date.now() - since;
      since = undefined;
    };
  }
  return {
    pool,
    stream,
    endpoint,
    pids: () => stream.snapshot().pids,
    close: async () => {
      for (const t of timers) clearInterval(t);
      endpoint.close('now');
      await pool.close();
    },
  };
}

async function bandwidth() {
  const seconds = QUICK ? 20 : 40;
  const scene =
    "testsrc:color=c=0x556677:s=640x360:r=10[bg];color=c=0xe0d0b0:s=48x96:r=10[box];" +
    "[bg][box]overlay=x='(mod(t,20)-9)*400':y=150:enable='between(mod(t,20),9,11)',noise=alls=5:allf=t";
  const motion = {};
  const p = pipeline({ source: scene, fps: 10, adaptive: true, motion });
  const { server, url } = await serve(p.endpoint);
  const plain = viewer(url);
  const aware = viewer(`${url}?idlefps=2`);
  try {
    await delay(3000); // start-up and the detector's first background
    const b0 = [plain.bytes, aware.bytes];
    const p0 = [plain.parts, aware.parts];
    motion.on = 0;
    const t0 = Date.now();
    await delay(seconds * 1000);
    motion.finish();
    const secs = (Date.now() - t0) / 1000;
    const rate = (v, i) => ({ kBps: (v.bytes - b0[i]) / secs / 1000, fps: (v.parts - p0[i]) / secs });
    const a = rate(plain, 0);
    const b = rate(aware, 1);
    console.log(`\nA. Bandwidth per viewer, mostly static 640x360 10 fps scene (motion ${((motion.on / 1000 / secs) * 100).toFixed(0)}% of ${secs.toFixed(0)} s), JPEG q5`);
    console.log('| viewer | KB/s | frames/s |');
    console.log('|---|---|---|');
    console.log(`| plain (every frame; baseline) | ${a.kBps.toFixed(1)} | ${a.fps.toFixed(1)} |`);
    console.log(`| motion-aware (?idlefps=2) | ${b.kBps.toFixed(1)} | ${b.fps.toFixed(1)} |`);
    console.log(`| ratio aware/plain | ${(b.kBps / a.kBps).toFixed(2)} | ${(b.fps / a.fps).toFixed(2)} |`);
  } finally {
    plain.close();
    aware.close();
    server.closeAllConnections();
    server.close();
    await p.close();
  }
}

async function cpuRun(clip, adaptive) {
  // Long enough for the lower rate to take over and the viewers' backlog from the full-rate start to drain.
  const warmupMs = QUICK ? 8000 : 16000;
  const windows = QUICK ? 2 : 4;
  const windowMs = 4000;
  const p = pipeline({ source: clip, fps: 10, adaptive });
  const { server, url } = await serve(p.endpoint);
  const clients = fork(__filename, ['--clients'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const report = () => new Promise((r) => clients.once('message', (m) => r(m.report)) && clients.send({ report: true }));
  try {
    clients.send({ open: { url, n: 3, bytesPerSec: 250_000 } });
    await delay(warmupMs);
    const cpu = [];
    const fps = [];
    let switches = 0;
    for (let w = 0; w < windows; w++) {
      const pids = p.pids();
      const f0 = pids.map(pidCpuMs);
      const s0 = ownCpuMs();
      const r0 = await report();
      const t0 = performance.now();
      await delay(windowMs);
      const secs = (performance.now() - t0) / 1000;
      const f1 = pids.map(pidCpuMs);
      if (f1.some((x) => x === undefined) || p.pids().join() !== pids.join()) {
        switches++; // the process changed inside the window: its CPU is not comparable
        continue;
      }
      const ff = f1.reduce((s, x, i) => s + x - f0[i], 0);
      cpu.push((ff + ownCpuMs() - s0) / secs);
      const r1 = await report();
      fps.push(median(r1.map((x, i) => (x.parts - r0[i].parts) / secs)));
      if (process.env.BENCH_DEBUG) console.log('window', w, 'every', p.stream.snapshot().outputs.jpegEvery, 'demand', JSON.stringify(p.endpoint.demand()), [...p.endpoint.hub].map((v) => JSON.stringify(v.progress())).join(' '), 'cpu', cpu[cpu.length - 1].toFixed(0), 'fps', fps[fps.length - 1].toFixed(2));
    }
    return { cpu: median(cpu), fps: median(fps), every: p.stream.snapshot().outputs.jpegEvery, switches, windows: cpu.length };
  } finally {
    clients.send({ close: true });
    server.closeAllConnections();
    server.close();
    await p.close();
  }
}

async function cpu() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpser-bench-'));
  try {
    const clip = path.join(dir, 'cam.mp4');
    execFileSync('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=10',
      '-t', '20', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '20', '-pix_fmt', 'yuv420p', clip]);
    const off = await cpuRun(clip, false);
    const on = await cpuRun(clip, true);
    console.log('\nB. CPU with every viewer slow: 1280x720 10 fps H.264 -> JPEG q5, 3 viewers reading at most 250 KB/s each');
    console.log('| adaptive demand | CPU ms/s (FFmpeg + server, median of windows) | frames/s per viewer | JPEG every n-th frame |');
    console.log('|---|---|---|---|');
    console.log(`| off (every frame; baseline) | ${off.cpu.toFixed(0)} | ${off.fps.toFixed(1)} | ${off.every} |`);
    console.log(`| on | ${on.cpu.toFixed(0)} | ${on.fps.toFixed(1)} | ${on.every} |`);
    console.log(`| ratio on/off | ${(on.cpu / off.cpu).toFixed(2)} | ${(on.fps / off.fps).toFixed(2)} | |`);
    if (off.switches + on.switches > 0) console.log(`(windows skipped because the process changed inside them: off ${off.switches}, on ${on.switches})`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
  if (!only || only === 'bandwidth') await bandwidth();
  if (!only || only === 'cpu') await cpu();
}

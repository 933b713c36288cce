'use strict';
// Recovery of a killed FFmpeg, measured from outside: how long after a SIGKILL of the stream's FFmpeg a real MJPEG
// HTTP client receives a real frame (not a placeholder) made by the new process.
//
// Method
// - The server runs in a child process: a ProcessPool with one stream (testsrc2 640x360, 10 fps, as from a camera),
//   an MjpegEndpoint fed by the stream's frames (the ffmpeg-source → mjpeg-out wire), on a loopback HTTP server.
// - This process is the viewer (the test helper's strict multipart parser) and the killer: it finds the FFmpeg among
//   the server's children in /proc, waits until the stream has delivered frames for 6 s since its last start (past the
//   supervisor's 5 s healthy run), SIGKILLs it and times (performance.now, this process) until a part arrives that is
//   not marked `X-Glimpser-Placeholder: 1` and is one of the first 10 frames of a fresh process. FFmpeg's JPEG output is
//   deterministic, so those are recorded once beforehand with the same settings; a frame of the killed process still in
//   the pipe can never match (testsrc2 never repeats a picture within the run).
// - Ours: the pool's defaults (a run that delivered frames restarts at once, at most once per 5 s; kills here come
//   6 s apart). Baseline: the same pool with healthyRunMs: Infinity and the backoff held at its 1 s base (±20%
//   jitter): every failure waits the backoff, as before restarts at once. Both in the same run, one after the other.
// Run: npm run build && node bench/recovery.js   [--kills N] (default 5)
const { fork } = require('node:child_process');
const path = require('node:path');

const CAPTURE = { source: 'testsrc2=size=640x360:rate=10', fps: 10, quality: 5 };
const HEALTHY_WAIT_MS = 6000;
const { serveStream, dist } = require('./lib/stream-server');

// ---------------------------------------------------------------------------------------------- server side
function serverMain(mode) {
  // Baseline: never a restart at once, and the backoff held at its base, so every failure waits 1 s (±20%), as
  // before the restart policy restarted a process that had delivered at once (an escalating backoff would measure
  // how many kills came before, not what one costs).
  serveStream(CAPTURE, mode === 'baseline' ? { supervisor: { healthyRunMs: Infinity, backoff: { baseMs: 1000, capMs: 1000, jitter: 0.2 } } } : {});
}

// ---------------------------------------------------------------------------------------------- client side
async function freshFrames(n) {
  const { ProcessPool } = require(path.join(dist, 'core', 'stream', 'pool'));
  const pool = new ProcessPool({ idleGraceMs: 0 });
  const lease = pool.acquire(CAPTURE);
  const frames = [];
  await new Promise((resolve) => {
    lease.capture.on('frame', (f) => {
      if (frames.length < n) frames.push(Buffer.from(f.jpeg));
      if (frames.length === n) resolve();
    });
  });
  await pool.close();
  return frames;
}

function pct(sorted, p) {
  // Nearest rank: with 8 samples the 95th percentile is the largest.
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function runMode(mode, kills, fresh) {
  const { openStream } = require('../test/helpers/mjpeg-client');
  const { childrenOf, waitFor } = require('../test/helpers/procs');
  const child = fork(__filename, ['--server', mode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await new Promise((r) => child.once('message', r));
  const viewer = await openStream(`http://127.0.0.1:${port}/bench.mjpg`, { maxQueue: 5 });
  let lastRealAt = 0;
  let realSince = 0;
  let waiting;
  viewer.parser.on('part', (body) => {
    const now = performance.now();
    if (body.placeholder) {
      realSince = 0;
      return;
    }
    lastRealAt = now;
    if (!realSince) realSince = now;
    if (waiting && fresh.some((f) => f.equals(body))) waiting(now);
  });
  const times = [];
  try {
    for (let k = 0; k < kills; k++) {
      const ready = await waitFor(() => realSince && performance.now() - realSince >= HEALTHY_WAIT_MS && performance.now() - lastRealAt < 500, 30000, 50);
      if (!ready) throw new Error(`${mode}: no steady frames before kill ${k + 1}`);
      const [pid] = childrenOf(child.pid, /ffmpeg/);
      if (!pid) throw new Error(`${mode}: no FFmpeg child`);
      const recovered = new Promise((resolve) => {
        waiting = resolve;
      });
      const killedAt = performance.now();
      process.kill(pid, 'SIGKILL');
      // Restart the healthy-run clock: frames of the new process count from their first one.
      realSince = 0;
      const at = await Promise.race([recovered, new Promise((r) => setTimeout(r, 15000, undefined))]);
      waiting = undefined;
      if (at === undefined) throw new Error(`${mode}: no frame of the new process within 15 s of kill ${k + 1}`);
      times.push(at - killedAt);
      process.stdout.write(`  ${mode} kill ${k + 1}: ${Math.round(at - killedAt)} ms\n`);
    }
  } finally {
    viewer.close();
    child.send({ type: 'exit' });
    await new Promise((r) => child.once('exit', r));
  }
  return times.sort((a, b) => a - b);
}

async function main() {
  const at = process.argv.indexOf('--kills');
  const kills = at > 0 ? Number(process.argv[at + 1]) : 5;
  const fresh = await freshFrames(10);
  process.stdout.write(`recovery after SIGKILL of the stream's FFmpeg, ${kills} kills each, 640x360 10 fps, kill → first real frame of the new process at an HTTP viewer\n`);
  const ours = await runMode('ours', kills, fresh);
  const base = await runMode('baseline', kills, fresh);
  const row = (name, t) => `${name.padEnd(44)} p50 ${pct(t, 50).toFixed(0).padStart(5)} ms   p95 ${pct(t, 95).toFixed(0).padStart(5)} ms   (min ${t[0].toFixed(0)}, max ${t.at(-1).toFixed(0)})\n`;
  process.stdout.write(row('ours (immediate restart after a healthy run)', ours));
  process.stdout.write(row('baseline (backoff for every failure)', base));
  process.stdout.write(`ratio ours/baseline: p50 ${(pct(ours, 50) / pct(base, 50)).toFixed(2)}, p95 ${(pct(ours, 95) / pct(base, 95)).toFixed(2)}\n`);
}

if (process.argv[2] === '--server') serverMain(process.argv[3]);
else {
  main().catch((err) => {
    process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  });
}

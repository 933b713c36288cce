'use strict';
// Recycling a long-running FFmpeg (the pool's recycle policy) without a gap, measured at a real HTTP viewer: the
// longest time between two real frames around each replacement, against replacing the process by a restart (SIGKILL,
// restarted at once by the recovery policy) in the same run.
//
// Method
// - The server runs in a child process: a ProcessPool with one stream (testsrc2 640x360, 10 fps), an MjpegEndpoint fed
//   by the stream's frames, on a loopback HTTP server. Ours: the pool's recycle policy set to replace the process
//   after 6 s of frames (checked every 100 ms). Baseline: no recycling; this process SIGKILLs the FFmpeg every 6 s
//   (more than the recovery policy's 5 s between restarts at once, so each is restarted at once).
// - This process is the viewer: it notes the arrival time of every real part (placeholders excluded) and which FFmpeg
//   the server runs (from /proc). For each replacement (the FFmpeg pid changed) the longest gap between real parts in
//   the 3 s around it is one sample. Target: at most one frame interval (100 ms) plus 100 ms.
// Run: npm run build && node bench/recycle.js   [--replacements N] (default 6)
const { fork } = require('node:child_process');

const CAPTURE = { source: 'testsrc2=size=640x360:rate=10', fps: 10, quality: 5 };
const EVERY_MS = 6000;
const { serveStream } = require('./lib/stream-server');

function serverMain(mode) {
  serveStream(CAPTURE, mode === 'recycle' ? { recycle: { afterMs: EVERY_MS, checkMs: 100 } } : {});
}

async function runMode(mode, replacements) {
  const { openStream } = require('../test/helpers/mjpeg-client');
  const { childrenOf, waitFor, delay } = require('../test/helpers/procs');
  const child = fork(__filename, ['--server', mode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await new Promise((r) => child.once('message', r));
  const viewer = await openStream(`http://127.0.0.1:${port}/bench.mjpg`, { maxQueue: 5 });
  const arrivals = [];
  viewer.parser.on('part', (body) => {
    if (!body.placeholder) arrivals.push(performance.now());
  });
  const gaps = [];
  try {
    if (!(await waitFor(() => arrivals.length >= 20, 30000, 50))) throw new Error(`${mode}: no steady frames`);
    let pid = childrenOf(child.pid, /ffmpeg/).at(-1);
    let killTimer;
    if (mode === 'restart') {
      killTimer = setInterval(() => {
        const [p] = childrenOf(child.pid, /ffmpeg/);
        if (p) process.kill(p, 'SIGKILL');
      }, EVERY_MS);
    }
    try {
      while (gaps.length < replacements) {
        // The replacement is the moment the server's FFmpeg is a new one alone (the old one gone).
        const changed = await waitFor(() => {
          const pids = childrenOf(child.pid, /ffmpeg/);
          return pids.length === 1 && pids[0] !== pid;
        }, EVERY_MS * 4, 10);
        if (!changed) throw new Error(`${mode}: no replacement within ${EVERY_MS * 4} ms`);
        const at = performance.now();
        pid = childrenOf(child.pid, /ffmpeg/)[0];
        await delay(1500);
        const around = arrivals.filter((t) => t >= at - 1500 && t <= at + 1500);
        let longest = 0;
        for (let i = 1; i < around.length; i++) longest = Math.max(longest, around[i] - around[i - 1]);
        gaps.push(longest);
        process.stdout.write(`  ${mode} replacement ${gaps.length}: longest gap ${Math.round(longest)} ms\n`);
      }
    } finally {
      clearInterval(killTimer);
    }
  } finally {
    viewer.close();
    child.send({ type: 'exit' });
    await new Promise((r) => child.once('exit', r));
  }
  return gaps.sort((a, b) => a - b);
}

async function main() {
  const at = process.argv.indexOf('--replacements');
  const n = at > 0 ? Number(process.argv[at + 1]) : 6;
  const ours = await runMode('recycle', n);
  const base = await runMode('restart', n);
  const med = (a) => a[Math.floor(a.length / 2)];
  console.log(`\nrecycle (make before break): longest gap at the viewer p50 ${Math.round(med(ours))} ms, max ${Math.round(ours.at(-1))} ms ` +
    `(target: one frame interval + 100 ms = 200 ms)`);
  console.log(`restart (SIGKILL, restarted at once):  p50 ${Math.round(med(base))} ms, max ${Math.round(base.at(-1))} ms`);
  console.log(`ratio recycle / restart: p50 ${(med(ours) / med(base)).toFixed(2)}, max ${(ours.at(-1) / base.at(-1)).toFixed(2)}`);
}

if (process.argv[2] === '--server') serverMain(process.argv[3]);
else main().catch((err) => {
  console.error(err);
  process.exit(1);
});

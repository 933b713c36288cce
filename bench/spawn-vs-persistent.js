'use strict';
// The old way (one FFmpeg process spawned per frame) vs ours (one persistent FFmpeg with buildArgs + MultipartJpegSplitter),
// on the same 1280x720 sources: lavfi testsrc2 and a generated H.264 file with one long GOP (-g 250).
//   latency, spawn:      spawn() -> the frame's last byte split out of stdout (what a still request costs)
//   latency, persistent: arrival of the chunk holding a frame's last byte -> onFrame (what our code adds)
//   CPU per frame:       FFmpeg's CPU (waited children: /proc/self/stat cutime+cstime; the live child:
//                        /proc/<pid>/stat utime+stime) plus this process's own process.cpuUsage()
// Blocks of both ways alternate (two rounds each) so machine noise hits both. Medians and p95.
// Run: npm run build && node bench/spawn-vs-persistent.js
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { JpegSplitter } = require('../dist/core/jpeg/jpeg-splitter.js');
const { MultipartJpegSplitter } = require('../dist/core/jpeg/multipart-splitter.js');
const { buildArgs } = require('../dist/core/ffmpeg/args.js');
const { ownCpuMs, pidCpuMs, USER_HZ, waitedChildrenCpuMs } = require('./lib/measure.js');

const ROUNDS = 2;
const SPAWNS_PER_ROUND = 8;
const WARMUP_FRAMES = 5;
const FRAMES_PER_ROUND = 30;
const CLIP_SECONDS = 10;
const QUALITY = 5;

function spawnOneFrame(args) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let tFrame;
    let stderr = '';
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const splitter = new JpegSplitter({ onFrame: () => { tFrame ??= process.hrtime.bigint(); } });
    child.stdout.on('data', (c) => splitter.push(c));
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 || tFrame === undefined) reject(new Error(`ffmpeg exit ${code}: ${stderr}`));
      else resolve(Number(tFrame - t0) / 1e6);
    });
  });
}

async function spawnBlock(argsFor, n, out) {
  const c0 = waitedChildrenCpuMs();
  const o0 = ownCpuMs();
  for (let i = 0; i < n; i++) out.latency.push(await spawnOneFrame(argsFor(out.latency.length)));
  out.childCpu += waitedChildrenCpuMs() - c0;
  out.ownCpu += ownCpuMs() - o0;
  out.frames += n;
}

function persistentBlock(args, out) {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let tChunk = 0n;
    let seen = 0;
    let c0 = 0;
    let o0 = 0;
    let stderr = '';
    let stopping = false;
    // buildArgs writes -f mpjpeg, split as production splits it.
    const splitter = new MultipartJpegSplitter({
      onFrame: () => {
        const added = Number(process.hrtime.bigint() - tChunk) / 1e6;
        seen++;
        if (seen === WARMUP_FRAMES) {
          c0 = pidCpuMs(child.pid);
          o0 = ownCpuMs();
        } else if (seen > WARMUP_FRAMES && !stopping) {
          out.latency.push(added);
          if (seen === WARMUP_FRAMES + FRAMES_PER_ROUND) {
            out.childCpu += pidCpuMs(child.pid) - c0;
            out.ownCpu += ownCpuMs() - o0;
            out.frames += FRAMES_PER_ROUND;
            stopping = true;
            child.kill('SIGTERM');
          }
        }
      },
    });
    child.stdout.on('data', (c) => {
      tChunk = process.hrtime.bigint();
      splitter.push(c);
    });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => (stopping ? resolve() : reject(new Error(`persistent ffmpeg ended early (${code}): ${stderr}`))));
  });
}

function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

function fmt(ms) {
  return ms >= 1 ? `${ms.toFixed(1)} ms` : `${(ms * 1000).toFixed(0)} µs`;
}

function table(title, spawned, persistent) {
  const row = (name, r) => {
    const cpu = (r.childCpu + r.ownCpu) / r.frames;
    return `${name.padEnd(28)}${fmt(percentile(r.latency, 50)).padStart(12)}${fmt(percentile(r.latency, 95)).padStart(12)}` +
      `${fmt(cpu).padStart(14)}  (ffmpeg ${fmt(r.childCpu / r.frames)}, node ${fmt(r.ownCpu / r.frames)}, n=${r.frames})`;
  };
  const ratio = (a, b) => `${(a / b).toFixed(0)}x`;
  console.log(`\n${title}`);
  console.log(`${''.padEnd(28)}${'latency p50'.padStart(12)}${'p95'.padStart(12)}${'CPU/frame'.padStart(14)}`);
  console.log(row('spawn per frame', spawned));
  console.log(row('persistent, mpjpeg split', persistent));
  const cpuS = (spawned.childCpu + spawned.ownCpu) / spawned.frames;
  const cpuP = (persistent.childCpu + persistent.ownCpu) / persistent.frames;
  console.log(`${'ratio spawn/persistent'.padEnd(28)}${ratio(percentile(spawned.latency, 50), percentile(persistent.latency, 50)).padStart(12)}` +
    `${ratio(percentile(spawned.latency, 95), percentile(persistent.latency, 95)).padStart(12)}${ratio(cpuS, cpuP).padStart(14)}`);
}

const empty = () => ({ latency: [], childCpu: 0, ownCpu: 0, frames: 0 });

async function compare(title, spawnArgsFor, persistentArgs) {
  const spawned = empty();
  const persistent = empty();
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      await spawnBlock(spawnArgsFor, SPAWNS_PER_ROUND, spawned);
      await persistentBlock(persistentArgs, persistent);
    } else {
      await persistentBlock(persistentArgs, persistent);
      await spawnBlock(spawnArgsFor, SPAWNS_PER_ROUND, spawned);
    }
  }
  table(title, spawned, persistent);
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpser-bench-'));
  try {
    const clip = path.join(dir, 'gop250.mp4');
    execFileSync('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25',
      '-t', String(CLIP_SECONDS), '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '250', '-keyint_min', '250', '-sc_threshold', '0',
      '-pix_fmt', 'yuv420p', clip]);
    const quiet = ['-hide_banner', '-nostdin', '-loglevel', 'error'];
    const lavfi = 'testsrc2=size=1280x720:rate=10';
    console.log(`Per-frame cost, old way vs persistent; 1280x720 -q:v ${QUALITY}; ${ROUNDS} alternating rounds of ${SPAWNS_PER_ROUND} spawns / ${FRAMES_PER_ROUND} persistent frames; CPU clock ${USER_HZ} Hz`);
    await compare(
      'lavfi testsrc2 1280x720 (spawn: ffmpeg -f lavfi -i testsrc2=... -frames:v 1 -f mjpeg pipe:1)',
      () => [...quiet, '-f', 'lavfi', '-i', lavfi, '-frames:v', '1', '-q:v', String(QUALITY), '-f', 'mjpeg', 'pipe:1'],
      buildArgs({ source: lavfi, fps: 10, quality: QUALITY }),
    );
    // Seek targets spread over the clip; every one but t=0 needs decoding from the single keyframe.
    const seekAt = (i) => ((i * 3.7) % (CLIP_SECONDS - 0.5)).toFixed(2);
    await compare(
      `H.264 file, 1280x720, one GOP of 250 frames (spawn: ffmpeg -ss <t> -i clip.mp4 -frames:v 1 -f mjpeg pipe:1)`,
      (i) => [...quiet, '-ss', seekAt(i), '-i', clip, '-frames:v', '1', '-q:v', String(QUALITY), '-f', 'mjpeg', 'pipe:1'],
      buildArgs({ source: clip, loop: true, fps: 10, quality: QUALITY }),
    );
    console.log('\nNote: the two latency columns measure different spans (see the header of this file): spawn is the full cost of');
    console.log('a fresh frame, persistent is only what our splitting adds after FFmpeg wrote the frame.');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});

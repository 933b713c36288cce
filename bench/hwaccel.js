'use strict';
// CPU per frame of our full capture pipeline (decode, JPEG q5 at full size, gray 240x180 luma) on an H.264
// 1280x720 10 fps file: software decoding (the baseline) against the best method the hardware probe found.
// CPU is FFmpeg's own: user+system time of the waited child (/proc/self/stat cutime+cstime around each run).
// Runs alternate (software, hardware, software, ...) so machine noise hits both; medians of ROUNDS runs.
// Where the probe finds no working method (this machine: no GPU, no /dev/dri) it says so and prints software only.
// Run: npm run build && node bench/hwaccel.js
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { probeHwaccels } = require('../dist/core/hwaccel/probe.js');
const { softwarePlan } = require('../dist/core/hwaccel/methods.js');
const { planFor } = require('../dist/core/hwaccel/choose.js');
const { findOnPath } = require('../dist/core/ffmpeg/binary.js');
const { MultipartJpegSplitter, FFMPEG_BOUNDARY } = require('../dist/core/jpeg/multipart-splitter.js');
const { PgmSplitter } = require('../dist/core/jpeg/pgm-splitter.js');
const { median, waitedChildrenCpuMs } = require('./lib/measure.js');

const ROUNDS = 3;
const SECONDS = 10;
const FPS = 10;
const GRAY = { width: 240, height: 180 };

/** One pass over the file through the capture's graph for this plan; resolves with CPU ms and frame counts. */
function runPipeline(ffmpeg, plan, file) {
  const graph = `[0:v]fps=${FPS},split=2[a][b];[a]${plan.scaleChain(undefined, 'yuv420p')}[out1];[b]${plan.scaleChain(GRAY, 'gray')}[out2]`;
  const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', ...plan.inputArgs, '-i', file, '-filter_complex', graph,
    '-map', '[out1]', '-an', '-sn', '-dn', '-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p', '-q:v', '5', '-f', 'mpjpeg', '-boundary_tag', FFMPEG_BOUNDARY, 'pipe:1',
    '-map', '[out2]', '-an', '-sn', '-dn', '-c:v', 'pgm', '-f', 'image2pipe', 'pipe:3'];
  return new Promise((resolve, reject) => {
    let jpegs = 0;
    let grays = 0;
    let stderr = '';
    const jpeg = new MultipartJpegSplitter({ boundary: FFMPEG_BOUNDARY, onFrame: () => { jpegs++; } });
    const pgm = new PgmSplitter({ onFrame: () => { grays++; } });
    const before = waitedChildrenCpuMs();
    const child = spawn(ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    child.stdout.on('data', (c) => jpeg.push(c));
    child.stdio[3].on('data', (c) => pgm.push(c));
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${plan.label}: FFmpeg exited ${code}: ${stderr.trim()}`));
      if (jpegs === 0 || grays !== jpegs) return reject(new Error(`${plan.label}: ${jpegs} JPEG and ${grays} gray frames`));
      resolve({ cpuMs: waitedChildrenCpuMs() - before, frames: jpegs });
    });
  });
}

async function main() {
  const ffmpeg = findOnPath('ffmpeg');
  if (!ffmpeg) throw new Error('ffmpeg not on PATH');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpser-bench-hw-'));
  try {
    const file = path.join(dir, 'cam-720p.mp4');
    // A camera-like stream: 720p, 10 fps, a keyframe every 2 s.
    execFileSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=${FPS}`, '-t', String(SECONDS),
      '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', String(FPS * 2), file]);

    const report = await probeHwaccels(ffmpeg);
    console.log(`FFmpeg: ${report.version}`);
    for (const e of report.entries) {
      console.log(`  ${`${e.method}${e.device ? ` ${e.device}` : ''}`.padEnd(28)} ${e.status.padEnd(7)} ${e.reason ?? ''}`);
    }
    const best = planFor(report, 'auto');
    const sw = softwarePlan();
    const plans = best.plan.method === 'software' ? [sw] : [sw, best.plan];
    const cpu = new Map(plans.map((p) => [p.label, []]));
    let frames = 0;
    await runPipeline(ffmpeg, sw, file); // warm-up: page cache, dynamic libraries
    for (let round = 0; round < ROUNDS; round++) {
      for (const plan of plans) {
        const r = await runPipeline(ffmpeg, plan, file);
        cpu.get(plan.label).push(r.cpuMs / r.frames);
        frames = r.frames;
      }
    }
    const swMs = median(cpu.get(sw.label));
    console.log(`\nfull pipeline, H.264 1280x720 ${FPS} fps, ${frames} frames per run, JPEG q5 + gray ${GRAY.width}x${GRAY.height}, median of ${ROUNDS} runs:`);
    console.log(`  software decoding (baseline):  ${swMs.toFixed(2)} ms CPU per frame   (runs: ${cpu.get(sw.label).map((x) => x.toFixed(2)).join(', ')})`);
    if (plans.length === 1) {
      console.log(`  hardware decoding:             none usable here (${best.note}); only the software figure exists on this machine`);
      return;
    }
    const hwMs = median(cpu.get(best.plan.label));
    console.log(`  ${best.plan.label.padEnd(30)} ${hwMs.toFixed(2)} ms CPU per frame   (runs: ${cpu.get(best.plan.label).map((x) => x.toFixed(2)).join(', ')})`);
    console.log(`  ratio hardware/software: ${(hwMs / swMs).toFixed(2)} (${((1 - hwMs / swMs) * 100).toFixed(0)}% less CPU per frame)`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

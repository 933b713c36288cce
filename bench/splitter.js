'use strict';
// JpegSplitter vs npm pipe2jpeg on the same recorded 1280x720 FFmpeg mjpeg stream, fed in 64 KiB chunks.
// Rounds interleave the two (alternating which goes first); the table shows medians and our/their ratio.
// Run: npm run build && node bench/splitter.js
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const P2J = require('pipe2jpeg');
const { JpegSplitter } = require('../dist/core/jpeg-splitter.js');

const FRAMES = 150;
const CHUNK = 64 * 1024;
const ROUNDS = 15;
const PASSES = 40; // stream passes per round, so one round takes long enough to time

function record(dir) {
  const file = path.join(dir, 'bench-720p.mjpg');
  execFileSync('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25',
    '-frames:v', String(FRAMES), '-q:v', '5', '-f', 'mjpeg', file]);
  return fs.readFileSync(file);
}

/** 64 KiB chunks, each with its own memory like a pipe read. */
function chunksOf(buf) {
  const out = [];
  for (let i = 0; i < buf.length; i += CHUNK) {
    const part = buf.subarray(i, i + CHUNK);
    const own = Buffer.allocUnsafeSlow(part.length);
    part.copy(own);
    out.push(own);
  }
  return out;
}

function runOurs(chunks) {
  let frames = 0;
  let bytes = 0;
  const t0 = process.hrtime.bigint();
  for (let p = 0; p < PASSES; p++) {
    const s = new JpegSplitter({ onFrame: (f) => { frames++; bytes += f.length; } });
    for (const c of chunks) s.push(c);
  }
  return { ns: Number(process.hrtime.bigint() - t0), frames, bytes };
}

function runPipe2jpeg(chunks) {
  let frames = 0;
  let bytes = 0;
  const t0 = process.hrtime.bigint();
  for (let p = 0; p < PASSES; p++) {
    const p2j = new P2J();
    p2j.on('jpeg', (f) => { frames++; bytes += f.length; });
    for (const c of chunks) p2j.write(c);
  }
  return { ns: Number(process.hrtime.bigint() - t0), frames, bytes };
}

/** Chunks cut between the two bytes of every marker FF xx (xx = 0xD8 or 0xD9): rare in a pipe, but it happens. */
function chunksSplitInMarkers(buf, second) {
  const cuts = [];
  const marker = Buffer.from([0xff, second]);
  for (let i = buf.indexOf(marker); i !== -1; i = buf.indexOf(marker, i + 2)) cuts.push(i + 1);
  const out = [];
  let prev = 0;
  for (const c of [...cuts, buf.length]) {
    out.push(Buffer.from(buf.subarray(prev, c)));
    prev = c;
  }
  return out;
}

/** How many delivered frames equal the frames of the unsplit stream, in order. */
function correctFrames(collect, chunks, expected) {
  const got = collect(chunks);
  let ok = 0;
  for (let i = 0; i < Math.min(got.length, expected.length); i++) if (got[i].equals(expected[i])) ok++;
  return `${ok}/${expected.length} (${got.length} delivered)`;
}

function collectOurs(chunks) {
  const out = [];
  const s = new JpegSplitter({ onFrame: (f) => out.push(f) });
  for (const c of chunks) s.push(c);
  return out;
}

function collectPipe2jpeg(chunks) {
  const out = [];
  const p2j = new P2J();
  p2j.on('jpeg', (f) => out.push(f));
  for (const c of chunks) p2j.write(c);
  return out;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpser-bench-'));
  try {
    const stream = record(dir);
    const chunks = chunksOf(stream);
    const inputBytes = stream.length * PASSES;
    // Warm up both (JIT) before timing.
    runOurs(chunks);
    runPipe2jpeg(chunks);
    const ours = [];
    const theirs = [];
    let oursFrames = 0;
    let theirFrames = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 ? [runPipe2jpeg, runOurs] : [runOurs, runPipe2jpeg];
      for (const fn of order) {
        const res = fn(chunks);
        if (fn === runOurs) { ours.push(res); oursFrames = res.frames / PASSES; } else { theirs.push(res); theirFrames = res.frames / PASSES; }
      }
    }
    const mbps = (runs) => median(runs.map((x) => inputBytes / 1e6 / (x.ns / 1e9)));
    const fps = (runs) => median(runs.map((x) => x.frames / (x.ns / 1e9)));
    const o = { mbps: mbps(ours), fps: fps(ours) };
    const t = { mbps: mbps(theirs), fps: fps(theirs) };
    const f = (x) => x.toFixed(0).padStart(10);
    console.log(`JPEG splitting: ${FRAMES} frames of 1280x720 -q:v 5 (${(stream.length / 1e6).toFixed(2)} MB, avg ${(stream.length / FRAMES / 1024).toFixed(0)} KiB/frame), ${chunks.length} chunks of 64 KiB, ${ROUNDS} interleaved rounds x ${PASSES} passes, medians`);
    console.log(`frames found per pass: ours ${oursFrames}, pipe2jpeg ${theirFrames}`);
    console.log('                     MB/s    frames/s');
    console.log(`pipe2jpeg      ${f(t.mbps)}  ${f(t.fps)}`);
    console.log(`JpegSplitter   ${f(o.mbps)}  ${f(o.fps)}`);
    console.log(`ratio ours/p2j ${(o.mbps / t.mbps).toFixed(2).padStart(10)}  ${(o.fps / t.fps).toFixed(2).padStart(10)}`);
    const expected = collectOurs([stream]);
    console.log('\ncorrect frames when chunks break inside markers (real pipes can split anywhere):');
    for (const [label, second] of [['every EOI split FF|D9', 0xd9], ['every SOI split FF|D8', 0xd8]]) {
      const chunksX = chunksSplitInMarkers(stream, second);
      console.log(`  ${label.padEnd(24)} pipe2jpeg ${correctFrames(collectPipe2jpeg, chunksX, expected).padEnd(24)} JpegSplitter ${correctFrames(collectOurs, chunksX, expected)}`);
    }
    if (oursFrames !== FRAMES) throw new Error(`JpegSplitter found ${oursFrames} frames, expected ${FRAMES}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main();

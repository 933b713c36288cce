'use strict';
// Splitting FFmpeg's JPEG output into frames. One encode of 150 frames of 1280x720 testsrc2 at -q:v 5 is recorded
// twice: as `-f mpjpeg` (what production reads now: each JPEG preceded by its Content-length) and as `-f mjpeg`
// (bare JPEGs back to back, what production read before). Contenders:
//   pipe2jpeg (npm)        on the mpjpeg stream, through its public write(): scans for SOI/EOI, skips part headers
//   MultipartJpegSplitter  on the same mpjpeg stream: takes Content-length bytes, never scans the JPEG
//   JpegSplitter           on the mjpeg stream (reference: our previous splitter, SOI/EOI scan)
// The same chunks (each with its own memory, like pipe reads) at 16, 64 and 256 KiB. Rounds interleave the
// contenders (rotating which goes first); the table shows medians and the ratio to pipe2jpeg.
// Before timing, each contender's frames are checked against the others: same count, same bytes.
// Run: npm run build && node bench/splitter.js
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const P2J = require('pipe2jpeg');
const { JpegSplitter } = require('../dist/core/jpeg/jpeg-splitter.js');
const { MultipartJpegSplitter } = require('../dist/core/jpeg/multipart-splitter.js');
const { median } = require('./lib/measure.js');

const FRAMES = 150;
const CHUNK_KIB = [16, 64, 256];
const ROUNDS = 11;
const PASSES = 30; // stream passes per timed run, so one run takes long enough to time

function record(dir) {
  const mp = path.join(dir, 'bench-720p.mpjpeg');
  const raw = path.join(dir, 'bench-720p.mjpg');
  const enc = ['-frames:v', String(FRAMES), '-q:v', '5'];
  execFileSync('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25',
    ...enc, '-f', 'mpjpeg', mp, ...enc, '-f', 'mjpeg', raw]);
  return { mp: fs.readFileSync(mp), raw: fs.readFileSync(raw) };
}

/** Chunks of `size` bytes, each with its own memory like a pipe read. */
function chunksOf(buf, size) {
  const out = [];
  for (let i = 0; i < buf.length; i += size) {
    const part = buf.subarray(i, i + size);
    const own = Buffer.allocUnsafeSlow(part.length);
    part.copy(own);
    out.push(own);
  }
  return out;
}

/** Each contender: feed(chunks, onFrame) splits one pass of the stream with a fresh instance. */
const CONTENDERS = [
  {
    name: 'pipe2jpeg (mpjpeg)',
    input: 'mp',
    feed(chunks, onFrame) {
      const p2j = new P2J();
      p2j.on('jpeg', onFrame);
      for (const c of chunks) p2j.write(c);
    },
  },
  {
    name: 'MultipartJpegSplitter (mpjpeg)',
    input: 'mp',
    feed(chunks, onFrame) {
      const s = new MultipartJpegSplitter({ onFrame });
      for (const c of chunks) s.push(c);
    },
  },
  {
    name: 'JpegSplitter (mjpeg, old)',
    input: 'raw',
    feed(chunks, onFrame) {
      const s = new JpegSplitter({ onFrame });
      for (const c of chunks) s.push(c);
    },
  },
];

function timed(contender, chunks) {
  let frames = 0;
  let bytes = 0;
  const onFrame = (f) => {
    frames++;
    bytes += f.length;
  };
  const t0 = process.hrtime.bigint();
  for (let p = 0; p < PASSES; p++) contender.feed(chunks, onFrame);
  return { ns: Number(process.hrtime.bigint() - t0), frames, bytes };
}

function collect(contender, chunks) {
  const out = [];
  // Copies, since a view may be of a chunk that a later pass reuses (not here, but keep the check honest).
  contender.feed(chunks, (f) => out.push(Buffer.from(f)));
  return out;
}

function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpser-bench-'));
  try {
    const streams = record(dir);
    console.log(`JPEG splitting: one encode of ${FRAMES} frames, 1280x720 testsrc2 -q:v 5: mpjpeg ${(streams.mp.length / 1e6).toFixed(2)} MB, ` +
      `mjpeg ${(streams.raw.length / 1e6).toFixed(2)} MB (avg ${(streams.raw.length / FRAMES / 1024).toFixed(0)} KiB/frame); ` +
      `${ROUNDS} interleaved rounds x ${PASSES} passes, medians. MB/s = the contender's input bytes per second.`);
    const header = `${'chunk'.padEnd(8)}${'contender'.padEnd(32)}${'MB/s'.padStart(10)}${'frames/s'.padStart(12)}${'vs pipe2jpeg'.padStart(14)}  frames/pass  JPEG bytes/pass`;
    console.log(header);
    let failed = false;
    for (const kib of CHUNK_KIB) {
      const chunks = { mp: chunksOf(streams.mp, kib * 1024), raw: chunksOf(streams.raw, kib * 1024) };
      // Identity check: every contender delivers the same frames, byte for byte.
      const got = CONTENDERS.map((c) => collect(c, chunks[c.input]));
      const ref = got[0];
      const same = got.every((g) => g.length === FRAMES && g.length === ref.length && g.every((f, i) => f.equals(ref[i])));
      if (!same) {
        failed = true;
        console.log(`${kib} KiB: contenders disagree: frame counts ${got.map((g) => g.length).join(', ')}`);
      }
      for (const c of CONTENDERS) timed(c, chunks[c.input]); // warm-up (JIT)
      const runs = CONTENDERS.map(() => []);
      for (let r = 0; r < ROUNDS; r++) {
        for (let k = 0; k < CONTENDERS.length; k++) {
          const i = (r + k) % CONTENDERS.length;
          runs[i].push(timed(CONTENDERS[i], chunks[CONTENDERS[i].input]));
        }
      }
      const stats = CONTENDERS.map((c, i) => ({
        mbps: median(runs[i].map((x) => (streams[c.input].length * PASSES) / 1e6 / (x.ns / 1e9))),
        fps: median(runs[i].map((x) => x.frames / (x.ns / 1e9))),
        frames: runs[i][0].frames / PASSES,
        bytes: runs[i][0].bytes / PASSES,
      }));
      CONTENDERS.forEach((c, i) => {
        const s = stats[i];
        const ratio = i === 0 ? '1.00' : (s.fps / stats[0].fps).toFixed(2);
        console.log(`${`${kib} KiB`.padEnd(8)}${c.name.padEnd(32)}${s.mbps.toFixed(0).padStart(10)}${s.fps.toFixed(0).padStart(12)}` +
          `${ratio.padStart(14)}  ${String(s.frames).padStart(11)}  ${String(s.bytes).padStart(15)}`);
      });
      if (new Set(stats.map((s) => `${s.frames}/${s.bytes}`)).size !== 1) failed = true;
    }
    console.log('ratio = frames/s over pipe2jpeg\'s frames/s in the same chunk size (both read the same mpjpeg chunks).');
    if (failed) throw new Error('contenders did not deliver identical frames');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main();

'use strict';
// Derives the table in bench/lib/jpeg-encoder.js that maps FFmpeg's mjpeg -q:v (2 best .. 31 smallest) to sharp's
// JPEG quality (1..100) giving the same bytes per frame, measured on real frames rather than guessed: the two
// encoders use different quantisation tables (FFmpeg: the MPEG-1 intra matrix times q/8 for luma and chroma alike,
// with a fixed DC step of 8; libjpeg: the JPEG Annex K tables, a harsher one for chroma, scaled by quality), so no
// formula turns one scale into the other.
//
// Frames: H.264 1280x720 from FFmpeg's testsrc2, clean and with mild temporal sensor noise, decoded by FFmpeg
// (yuv420p for FFmpeg's encoder, rgb24 for sharp, as each path gets them). For every q the matching quality is
// interpolated on each clip's bytes-per-quality curve, then averaged over the clips. SSIM (FFmpeg's ssim filter,
// luma, against the decoded source) is printed for both encoders at every matched pair.
// Run: npm run build && node scripts/jpeg-quality-map.js          (about a minute on two cores)
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const sharp = require('sharp');

const W = 1280;
const H = 720;
const FRAMES = 10;
const CLIPS = {
  clean: 'testsrc2=size=1280x720:rate=10',
  noisy: 'testsrc2=size=1280x720:rate=10,noise=alls=4:allf=t',
};

function ffmpeg(args) {
  execFileSync('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 30 });
}

/** Luma SSIM of the JPEGs in `mjpeg` (concatenated) against the first FRAMES decoded frames of `clip`. */
function ssimY(clip, mjpeg) {
  const graph = `[0:v]trim=end_frame=${FRAMES},settb=1/10,setpts=N,scale=in_range=tv:out_range=pc,format=yuvj420p[r];` +
    '[1:v]settb=1/10,setpts=N,format=yuvj420p[d];[r][d]ssim=shortest=1';
  const r = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-i', clip, '-f', 'mjpeg', '-i', mjpeg, '-filter_complex', graph, '-f', 'null', '-']);
  const m = /SSIM Y:([\d.]+)/.exec(r.stderr.toString());
  if (!m) throw new Error(`no SSIM from FFmpeg: ${r.stderr.toString().slice(-300)}`);
  return Number(m[1]);
}

async function sharpEncode(raw, quality, optimiseCoding) {
  const size = W * H * 3;
  const parts = [];
  for (let i = 0; i < FRAMES; i++) {
    parts.push(await sharp(raw.subarray(i * size, (i + 1) * size), { raw: { width: W, height: H, channels: 3 } })
      .jpeg({ quality, chromaSubsampling: '4:2:0', optimiseCoding })
      .toBuffer());
  }
  return Buffer.concat(parts);
}

/** The (fractional) quality at which `curve` (bytes per quality 1..100, rising) reaches `bytes`. */
function qualityFor(curve, bytes) {
  if (bytes <= curve[1]) return 1;
  for (let q = 2; q <= 100; q++) {
    if (curve[q] >= bytes) return q - 1 + (bytes - curve[q - 1]) / (curve[q] - curve[q - 1]);
  }
  return 100;
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpser-qmap-'));
  try {
    const clips = {};
    for (const [name, src] of Object.entries(CLIPS)) {
      const file = path.join(dir, `${name}.mp4`);
      ffmpeg(['-f', 'lavfi', '-i', src, '-t', '2', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-pix_fmt', 'yuv420p', '-g', '20', file]);
      const rawFile = path.join(dir, `${name}.rgb`);
      ffmpeg(['-i', file, '-frames:v', String(FRAMES), '-f', 'rawvideo', '-pix_fmt', 'rgb24', rawFile]);
      const ff = {};
      for (let q = 2; q <= 31; q++) {
        const out = path.join(dir, `${name}-q${q}.mjpg`);
        ffmpeg(['-i', file, '-frames:v', String(FRAMES), '-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p', '-q:v', String(q), '-f', 'mjpeg', out]);
        ff[q] = { bytes: fs.statSync(out).size / FRAMES, file: out };
      }
      const raw = fs.readFileSync(rawFile);
      const curves = {};
      for (const opt of [true, false]) {
        const curve = [0];
        for (let q = 1; q <= 100; q++) curve.push((await sharpEncode(raw, q, opt)).length / FRAMES);
        curves[opt] = curve;
      }
      clips[name] = { file, raw, ff, curves };
      process.stderr.write(`${name}: measured\n`);
    }
    const names = Object.keys(clips);
    for (const opt of [true, false]) {
      console.log(`\nsharp optimiseCoding ${opt}: quality with the bytes of FFmpeg -q:v q (${FRAMES} frames per clip, ${W}x${H})`);
      console.log(`  q   ${names.map((n) => `${n}: FFmpeg B  Q(frac)  `).join('')}  Q   ${names.map((n) => `SSIM-Y ${n} ffmpeg/sharp  `).join('')}`);
      const table = [];
      for (let q = 2; q <= 31; q++) {
        const fracs = names.map((n) => qualityFor(clips[n].curves[opt], clips[n].ff[q].bytes));
        const Q = Math.max(1, Math.min(100, Math.round(fracs.reduce((a, b) => a + b, 0) / fracs.length)));
        table.push(Q);
        const cols = names.map((n, i) => `${String(Math.round(clips[n].ff[q].bytes)).padStart(17)} ${fracs[i].toFixed(1).padStart(7)}  `).join('');
        let ssim = '';
        if ([2, 3, 5, 8, 12, 20, 31].includes(q)) {
          for (const n of names) {
            const mj = path.join(dir, `${n}-sharp.mjpg`);
            fs.writeFileSync(mj, await sharpEncode(clips[n].raw, Q, opt));
            ssim += `${ssimY(clips[n].file, clips[n].ff[q].file).toFixed(4)}/${ssimY(clips[n].file, mj).toFixed(4)}`.padEnd(30);
          }
        }
        console.log(`  ${String(q).padStart(2)} ${cols} ${String(Q).padStart(3)}   ${ssim}`);
      }
      console.log(`  table (index q-2): [${table.join(', ')}]`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

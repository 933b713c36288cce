'use strict';
// How evenly frames arrive, and what a screen shows from them.
//
// 1. Inter-arrival jitter at HTTP viewers: a live camera at 10 fps (bench/lib/tick-camera.js, its own child
//    process, 640x360 numbered frames) served by ours (FFmpeg reading the camera; pass-through) and by FFmpeg →
//    pipe2jpeg → mjpeg-server (bench/lib/way-server.js), to 1 / 100 / 1000 viewers in this process (a lean reader,
//    bench/lib/part-timer.js, stamped at each part's last byte). Per viewer, the gaps between consecutive frames;
//    pooled over the viewers: median, standard deviation, p99 and the longest. A viewer reading the camera directly
//    at the same time gives the source's own jitter (the floor every way starts from).
// 2. What the viewer page paints, in Debian's Chromium, from the same camera through a real node-red (ffmpeg-source
//    → mjpeg-out): after each animation frame one pixel row across the frame's code is read back from the tile's
//    canvas (bench/lib/page-probe.js): distinct pictures painted per second (a cross-fade paints a new blend at each
//    display frame), whole frames shown per second, the display's animation frames, and the main thread's long
//    tasks (Long Tasks API). Smooth on and off, beside the slideshow a dashboard showed before streams (an <img> of
//    the still URL reloaded every second).
// Run: npm run build && node bench/smoothness.js   [--window S] (default 5) [--ns 1,100,1000] [--no-browser]
const os = require('node:os');
const { codedFrames } = require('./lib/frame-code');
const { forkTickCamera } = require('./lib/tick-camera');
const { forkWay } = require('./lib/way-server');
const { watch } = require('./lib/watch');
const { startNodeRedCamera } = require('./lib/node-red-camera');
const { measurePage } = require('./lib/page-probe');
const { pct, stddev, fx, table } = require('./lib/stats');

const FPS = 10;
const WAYS = ['ours-ffmpeg', 'ours-passthrough', 'pipe2jpeg'];
const LABELS = {
  'ours-ffmpeg': 'ours, FFmpeg reads the camera',
  'ours-passthrough': 'ours, pass-through',
  pipe2jpeg: 'FFmpeg → pipe2jpeg → mjpeg-server',
};

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
}

/**
 * Gaps (ms) between consecutive new pictures, per viewer, pooled. A part that repeats the viewer's last picture
 * (FFmpeg's fps filter fills a slot with the previous frame when arrivals jitter) is a stutter, not a new picture:
 * counted apart, and the gap runs on to the next new one.
 */
function gapsOf(arrivals) {
  const last = new Map();
  const gaps = [];
  let repeats = 0;
  for (const [v, key, ns] of arrivals) {
    const prev = last.get(v);
    if (prev && prev.key === key) {
      repeats++;
      continue;
    }
    if (prev) gaps.push(Number(ns - prev.ns) / 1e6);
    last.set(v, { key, ns });
  }
  return { gaps, repeats };
}

function jitter({ gaps, repeats }) {
  return { n: gaps.length, repeats, p50: pct(gaps, 50), sd: stddev(gaps), p99: pct(gaps, 99), max: gaps.length ? Math.max(...gaps) : NaN };
}

async function main() {
  const windowMs = Number(arg('--window', 5)) * 1000;
  const ns = String(arg('--ns', '1,100,1000')).split(',').map(Number);
  const withBrowser = !process.argv.includes('--no-browser');
  const frames = await codedFrames({ width: 640, height: 360, count: 300, quality: 5 });
  const cam = await forkTickCamera(frames, { fps: FPS });
  console.log(`smoothness: camera 640x360 ${FPS} fps MJPEG over HTTP; viewers ${ns.join(' / ')}; window ${windowMs / 1000} s each; ${os.cpus().length} CPUs, node ${process.version}`);
  const rows = [];
  const page = [];
  try {
    let turn = 0;
    for (const n of ns) {
      const order = WAYS.map((_, k) => WAYS[(k + turn) % WAYS.length]);
      turn++;
      for (const way of order) {
        const server = await forkWay(way, cam.url, { fps: FPS, quality: 5 });
        try {
          const raw = await watch(server.url, n, { camUrl: cam.url, windowMs });
          rows.push({ n, way, via: jitter(gapsOf(raw.via)), direct: jitter(gapsOf(raw.direct.map(([key, t]) => [0, key, t]))), fps: raw.via.length / raw.seconds / n });
        } finally {
          await server.close();
        }
      }
    }
    if (withBrowser) {
      const nr = await startNodeRedCamera(cam.url, { name: 'smooth', fps: FPS });
      try {
        for (const [name, opts] of [
          ['viewer page, Smooth on', { kind: 'viewer', query: '?smooth=1' }],
          ['viewer page, Smooth off', { kind: 'viewer', query: '?smooth=0' }],
          ['slideshow: the still reloaded every second (baseline)', { kind: 'slideshow', src: nr.still }],
        ]) {
          page.push({ name, ...(await measurePage({ ...opts, base: nr.base, windowMs })) });
        }
      } finally {
        await nr.close();
      }
    }
  } finally {
    await cam.close();
  }

  const t = [['N', 'way', 'parts/s/viewer', 'repeated', 'gap p50 ms', 'sd', 'p99', 'max', 'source gap sd', 'p99', 'sd ratio way/source']];
  for (const r of rows) {
    t.push([String(r.n), LABELS[r.way], fx(r.fps, 2), String(r.via.repeats), fx(r.via.p50), fx(r.via.sd), fx(r.via.p99), fx(r.via.max), fx(r.direct.sd), fx(r.direct.p99), fx(r.via.sd / r.direct.sd, 2)]);
  }
  console.log('\ninter-arrival gaps at HTTP viewers (10 fps: 100 ms apart when even; source: a viewer reading the camera directly, same moment):');
  console.log(table(t));
  const ratio = [['N', 'ours (FFmpeg) / FFmpeg → pipe2jpeg → mjpeg-server', 'gap sd', 'gap p99']];
  for (const n of ns) {
    const o = rows.find((r) => r.n === n && r.way === 'ours-ffmpeg');
    const b = rows.find((r) => r.n === n && r.way === 'pipe2jpeg');
    if (o && b) ratio.push([String(n), '', fx(o.via.sd / b.via.sd, 2), fx(o.via.p99 / b.via.p99, 2)]);
  }
  console.log(table(ratio));
  if (page.length) {
    const p = [['in Chromium', 'distinct pictures painted/s', 'whole frames shown/s', 'animation frames/s', 'long tasks', 'longest ms']];
    for (const r of page) {
      const longest = r.longtasks.length ? Math.max(...r.longtasks.map((x) => x[1])) : 0;
      p.push([r.name, fx(r.changesPerS, 1), fx(r.shownPerS, 1), fx(r.rafsPerS, 1), String(r.longtasks.length), fx(longest, 0)]);
    }
    console.log(`\nwhat the page paints from a ${FPS} fps camera (${windowMs / 1000} s each):`);
    console.log(table(p));
    const on = page.find((r) => r.name.includes('Smooth on'));
    const slide = page.find((r) => r.name.startsWith('slideshow'));
    if (on && slide) console.log(`ratio Smooth on / slideshow: distinct pictures ${fx(on.changesPerS / slide.changesPerS, 1)}x, whole frames ${fx(on.shownPerS / slide.shownPerS, 1)}x`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

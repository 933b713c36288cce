'use strict';
// A frame's whole way, from the moment a live camera sent it to the moment a viewer has it: HTTP viewers (1 and
// 100) and the viewer page's canvas in Chromium, our stream beside the spawn-per-frame way and another MJPEG stack
// (FFmpeg → pipe2jpeg → mjpeg-server), all in the same run.
//
// Method
// - The camera (bench/lib/tick-camera.js, its own child process) serves MJPEG over HTTP, 1280x720 at 10 fps:
//   300 recorded testsrc2 frames whose number is drawn in pixel blocks (bench/lib/frame-code.js), so a frame is
//   recognised after FFmpeg re-encoded it or a browser drew it. Each tick's process.hrtime.bigint() (CLOCK_MONOTONIC,
//   one clock for every process) is taken right before the camera writes the frame: "source" time.
// - Each way runs in a fresh child process; the viewers (a lean Content-Length reader, bench/lib/part-timer.js)
//   run here and stamp each part when its last byte is read. A frame is named by its length and two samples of its
//   bytes; one body per name is decoded for its number, which gives the tick, hence the source time.
//   source → viewer   viewer's stamp − the camera's send time for that frame
//   added             viewer's stamp − the stamp of a viewer reading the camera directly for the same frame (in this
//                     process, at the same time): what the way adds to a plain loopback connection (FFmpeg's
//                     decoding and encoding included for the FFmpeg ways)
//   ready → viewer    viewer's stamp − when the frame was whole in the server process (our stream's `frame` event;
//                     pipe2jpeg's `jpeg` event; the spawned FFmpeg's exit): the serving part alone
// - Ways: ours reading the camera with FFmpeg (ProcessPool → Stream → MjpegEndpoint, as ffmpeg-source → mjpeg-out
//   wire them), ours in pass-through (no FFmpeg: the camera's JPEGs forwarded), FFmpeg with the same input options
//   → pipe2jpeg → mjpeg-server, and the old way: one FFmpeg per frame (`-frames:v 1`, spawned again as soon as the
//   last one ended) fanned out by mjpeg-server. Then a real `node-red` (ffmpeg-source → mjpeg-out) with the same
//   HTTP viewers, and the viewer page in Debian's Chromium: when each number first shows whole on the tile's
//   canvas (bench/lib/page-probe.js), Smooth off and on, beside the browser's own MJPEG decoding (an <img> of the
//   same endpoint).
// Run: npm run build && node bench/latency.js   [--window S] (default 6) [--ns 1,100] [--no-browser]
const os = require('node:os');
const { codedFrames, jpegNumber } = require('./lib/frame-code');
const { keyOf } = require('./lib/part-timer');
const { forkTickCamera } = require('./lib/tick-camera');
const { forkWay, WAYS } = require('./lib/way-server');
const { watch } = require('./lib/watch');
const { startNodeRedCamera } = require('./lib/node-red-camera');
const { measurePage, shownLatencies } = require('./lib/page-probe');
const { pct, fx, table } = require('./lib/stats');

const FPS = 10;
const FRAMES = 300;
const QUALITY = 5;

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
}

async function runWay(way, n, ctx, windowMs) {
  const server = await forkWay(way, ctx.camUrl, { fps: FPS, quality: QUALITY });
  try {
    const raw = await watch(server.url, n, { camUrl: ctx.camUrl, windowMs, warmupMs: way === 'spawn' ? 3000 : 2000 });
    return { ...raw, readyNs: server.readyNs };
  } finally {
    await server.close();
  }
}

/** Latencies (ms) of one watch(): source → viewer, added over a direct viewer, ready → viewer; fps per viewer. */
async function resolve(raw, ctx) {
  // The camera reports its ticks every 200 ms: wait for those of the window's last frames.
  const last = raw.via.reduce((m, a) => (a[2] > m ? a[2] : m), 0n);
  const until = Date.now() + 3000;
  while ((ctx.sent.at(-1) ?? 0n) <= last && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  const numbers = new Map(ctx.cameraNumbers);
  for (const [key, body] of raw.bodies) if (!numbers.has(key)) numbers.set(key, await jpegNumber(body));
  const sent = ctx.sent;
  // The tick that sent frame `number` last before `ns`.
  const tickFor = (number, ns) => {
    let lo = 0;
    let hi = sent.length - 1;
    if (hi < 0 || sent[0] > ns) return -1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (sent[mid] !== undefined && sent[mid] <= ns) lo = mid;
      else hi = mid - 1;
    }
    const i = lo - ((((lo - number) % FRAMES) + FRAMES) % FRAMES);
    return i >= 0 ? i : -1;
  };
  const directAt = new Map();
  for (const [key, ns] of raw.direct) {
    const i = tickFor(numbers.get(key) ?? -1, ns);
    if (i >= 0 && !directAt.has(i)) directAt.set(i, ns);
  }
  const whole = [];
  const added = [];
  const serve = [];
  const perViewer = new Array(raw.n).fill(0);
  // A frame a viewer already had (FFmpeg's fps filter repeats a frame to fill a slot when arrivals jitter) is not a
  // new picture: counted, not timed.
  const had = Array.from({ length: raw.n }, () => new Set());
  let repeats = 0;
  let unresolved = 0;
  for (const [v, key, ns] of raw.via) {
    perViewer[v]++;
    if (had[v].has(key)) {
      repeats++;
      continue;
    }
    had[v].add(key);
    const number = numbers.get(key);
    const i = number === undefined || number < 0 ? -1 : tickFor(number, ns);
    if (i < 0) {
      unresolved++;
      continue;
    }
    whole.push(Number(ns - sent[i]) / 1e6);
    if (directAt.has(i)) added.push(Number(ns - directAt.get(i)) / 1e6);
    if (raw.readyNs.has(key)) serve.push(Number(ns - raw.readyNs.get(key)) / 1e6);
  }
  const fps = perViewer.map((c) => c / raw.seconds);
  return { n: raw.n, whole, added, serve, fps: pct(fps, 50), fpsLow: pct(fps, 5), unresolved, repeats, parts: raw.via.length };
}

// ---------------------------------------------------------------------------------------------- main
async function main() {
  const windowMs = Number(arg('--window', 6)) * 1000;
  const ns = String(arg('--ns', '1,100')).split(',').map(Number);
  const withBrowser = !process.argv.includes('--no-browser');
  const frames = await codedFrames({ width: 1280, height: 720, count: FRAMES, quality: QUALITY });
  const cameraNumbers = new Map(frames.map((f, j) => [keyOf(f), j]));
  if (cameraNumbers.size !== FRAMES) throw new Error(`frame names collide: ${cameraNumbers.size} names for ${FRAMES} frames`);
  const cam = await forkTickCamera(frames, { fps: FPS });
  const ctx = { camUrl: cam.url, sent: cam.sent, cameraNumbers };
  const sizes = frames.map((f) => f.length).sort((a, b) => a - b);
  console.log(`latency: camera 1280x720 ${FPS} fps MJPEG over HTTP (${FRAMES} numbered frames, median ${(sizes[FRAMES >> 1] / 1024).toFixed(0)} KiB), ` +
    `viewers ${ns.join(' / ')}, window ${windowMs / 1000} s each; ${os.cpus().length} CPUs, node ${process.version}`);
  const results = [];
  const page = [];
  try {
    let turn = 0;
    for (const n of ns) {
      // Rotate the order per N, so a slow drift of a shared machine falls on every way.
      const order = WAYS.map((_, k) => WAYS[(k + turn) % WAYS.length]);
      turn++;
      for (const way of order) results.push({ way, ...(await resolve(await runWay(way, n, ctx, windowMs), ctx)) });
    }
    // The product as a user runs it: a real node-red, HTTP viewers, then the viewer page in Chromium.
    const nr = await startNodeRedCamera(ctx.camUrl, { name: 'lat', fps: FPS, quality: QUALITY });
    try {
      for (const n of ns) results.push({ way: 'ours in node-red', ...(await resolve({ ...(await watch(nr.stream, n, { camUrl: ctx.camUrl, windowMs })), readyNs: new Map() }, ctx)) });
      if (withBrowser) {
        for (const [name, opts] of [
          ['viewer page, Smooth off', { kind: 'viewer', query: '?smooth=0' }],
          ['viewer page, Smooth on', { kind: 'viewer', query: '?smooth=1' }],
          ['<img> of the same MJPEG stream', { kind: 'img', src: nr.stream }],
        ]) {
          const r = await measurePage({ ...opts, base: nr.base, windowMs });
          page.push({ name, lat: shownLatencies(r.shown, ctx.sent, FRAMES), ...r });
        }
      }
    } finally {
      await nr.close();
    }
    print(results, page);
  } finally {
    await cam.close();
  }
}

const LABELS = {
  'ours-ffmpeg': 'ours, FFmpeg reads the camera',
  'ours-passthrough': 'ours, pass-through (no FFmpeg)',
  'ours in node-red': 'ours in node-red (ffmpeg-source → mjpeg-out)',
  pipe2jpeg: 'FFmpeg → pipe2jpeg → mjpeg-server',
  spawn: 'spawn per frame → mjpeg-server',
};

function print(results, page) {
  const three = (xs) => [fx(pct(xs, 50)), fx(pct(xs, 95)), fx(pct(xs, 99))];
  const rows = [['N', 'way', 'fps', 'source→viewer p50', 'p95', 'p99', 'added p50', 'p95', 'p99', 'ready→viewer p50', 'p95', 'p99', 'frames', 'repeated', 'unread']];
  for (const r of results) {
    rows.push([String(r.n), LABELS[r.way], fx(r.fps, 2), ...three(r.whole), ...three(r.added), ...(r.serve.length ? three(r.serve) : ['-', '-', '-']), String(r.parts), String(r.repeats), String(r.unresolved)]);
  }
  console.log(`\nHTTP viewers (ms; "added": over a viewer reading the camera directly, same frames, same moment; a frame a viewer already had is counted as repeated, not timed):`);
  console.log(table(rows));
  const ratios = [['N', 'p99 ratio ours/baseline', 'source→viewer', 'added', 'ready→viewer']];
  for (const n of [...new Set(results.map((r) => r.n))]) {
    const ours = results.find((r) => r.n === n && r.way === 'ours-ffmpeg');
    for (const base of ['pipe2jpeg', 'spawn']) {
      const b = results.find((r) => r.n === n && r.way === base);
      if (!ours || !b) continue;
      const q = (k) => fx(pct(ours[k], 99) / pct(b[k], 99), 3);
      ratios.push([String(n), `ours (FFmpeg) / ${LABELS[base]}`, q('whole'), q('added'), b.serve.length ? q('serve') : '-']);
    }
  }
  console.log(table(ratios));
  if (page.length) {
    const prow = [['viewer in Chromium', 'source→canvas p50', 'p95', 'p99', 'pictures shown/s', 'long tasks']];
    for (const p of page) prow.push([p.name, fx(pct(p.lat, 50)), fx(pct(p.lat, 95)), fx(pct(p.lat, 99)), fx(p.shownPerS, 1), String(p.longtasks.length)]);
    console.log('\nsource → canvas (ms; when each frame number first shows whole, read back after every animation frame):');
    console.log(table(prow));
    const off = page.find((p) => p.name.includes('Smooth off'));
    const img = page.find((p) => p.name.includes('<img>'));
    if (off && img) console.log(`ratio viewer page (Smooth off) / <img>: p50 ${fx(pct(off.lat, 50) / pct(img.lat, 50), 2)}, p99 ${fx(pct(off.lat, 99) / pct(img.lat, 99), 2)}`);
  }
  const target = results.find((r) => r.way === 'ours-ffmpeg' && r.n === 100);
  if (target) console.log(`\nplan's target, under 20 ms added by us at p99 with 100 viewers: ready→viewer p99 ${fx(pct(target.serve, 99))} ms (FFmpeg way); pass-through added p99 ${fx(pct(results.find((r) => r.way === 'ours-passthrough' && r.n === 100)?.added ?? [], 99))} ms`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

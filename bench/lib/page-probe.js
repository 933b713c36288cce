'use strict';
// What a browser shows, measured inside Chromium: after every animation frame, one pixel row across the frame
// code (bench/lib/frame-code.js) is read back from each canvas the picture is drawn on, which gives when each frame
// number first showed whole (source → canvas latency) and how often the shown picture changed (distinct pictures
// painted per second: a cross-fade paints a new blend at every display frame). Main-thread long tasks are
// recorded with the Long Tasks API.
//
// For the viewer page the probe is prepended to its worker (the pictures are drawn there on OffscreenCanvases):
// it wraps the worker's requestAnimationFrame so the read-back runs right after the page's own drawing, and
// OffscreenCanvas.getContext to find the canvases. The page's code is otherwise served as it is. Baseline pages (a
// browser's own MJPEG <img>, a still refreshed every second) draw their <img> into a canvas at every animation
// frame and read that.
const { readCode } = require('./frame-code');

/** Runs in the page or the worker: the probe state and its per-canvas reader. */
function probeCore(readCodeSrc) {
  return `
const __probe = { shown: [], changes: [], rafs: 0, reads: 0, last: new Map() };
self.__probe = __probe;
const __readCode = ${readCodeSrc};
function __read(key, ctx, width) {
  if (width < 64) return;
  const now = performance.timeOrigin + performance.now();
  const b = Math.max(4, Math.round((width * 48) / 1280));
  const w = Math.min(width, b * 14);
  const row = ctx.getImageData(0, Math.floor(b / 2), w, 1).data;
  __probe.reads++;
  let sig = 0;
  for (let i = 0; i < row.length; i += 4) sig = (Math.imul(sig, 31) + row[i] + row[i + 1] * 7 + row[i + 2] * 13) | 0;
  let st = __probe.last.get(key);
  if (!st) { st = { sig: null, n: -2 }; __probe.last.set(key, st); }
  if (sig !== st.sig) { __probe.changes.push(now); st.sig = sig; }
  const n = __readCode((x) => { const i = Math.min(w - 1, Math.max(0, x)) * 4; return 0.299 * row[i] + 0.587 * row[i + 1] + 0.114 * row[i + 2]; }, width);
  if (n >= 0 && n !== st.n) { __probe.shown.push([n, now]); st.n = n; }
}
`;
}

/** Prepended to the viewer page's worker.js. */
function workerProbeSource() {
  return `${probeCore(readCode.toString())}
(function () {
  const ctxs = new Set();
  const getContext = OffscreenCanvas.prototype.getContext;
  OffscreenCanvas.prototype.getContext = function (...args) {
    const ctx = getContext.apply(this, args);
    if (ctx) ctxs.add(ctx);
    return ctx;
  };
  if (typeof self.requestAnimationFrame !== 'function') return;
  const raf = self.requestAnimationFrame.bind(self);
  self.requestAnimationFrame = (cb) => raf((ts) => {
    cb(ts);
    __probe.rafs++;
    let i = 0;
    for (const ctx of ctxs) __read(i++, ctx, ctx.canvas.width);
  });
})();
`;
}

/** Long tasks of the page's main thread and its animation-frame rate, from the page's start (an init script). */
function pageInitSource() {
  return `
window.__longtasks = [];
try {
  new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longtasks.push([e.startTime, e.duration]); })
    .observe({ type: 'longtask', buffered: true });
} catch (e) {}
window.__mainRafs = 0;
(function loop() { window.__mainRafs++; requestAnimationFrame(loop); })();
`;
}

/**
 * A page that shows `src` in an <img> (an MJPEG stream, or a still that `refreshMs` reloads) and probes it by
 * drawing the <img> into a canvas at every animation frame.
 */
function imgPageHtml(src, refreshMs = 0) {
  return `<!doctype html><html><body style="margin:0;background:#222">
<img id="img" src="${src}" style="width:640px">
<canvas id="c" style="display:none"></canvas>
<script>
${probeCore(readCode.toString())}
const img = document.getElementById('img');
const c = document.getElementById('c');
const ctx = c.getContext('2d', { willReadFrequently: true });
${refreshMs > 0 ? `setInterval(() => { img.src = ${JSON.stringify(src)} + (${JSON.stringify(src)}.includes('?') ? '&' : '?') + 't=' + Date.now(); }, ${refreshMs});` : ''}
function loop() {
  __probe.rafs++;
  if (img.naturalWidth > 0) {
    if (c.width !== img.naturalWidth) { c.width = img.naturalWidth; c.height = img.naturalHeight; }
    ctx.drawImage(img, 0, 0);
    __read(0, ctx, c.width);
  }
  requestAnimationFrame(loop);
}
requestAnimationFrame(loop);
</script></body></html>`;
}

/** Node's epoch-ms clock (performance.timeOrigin + now), and process.hrtime.bigint() converted to it. */
function nodeEpochMs() {
  return performance.timeOrigin + performance.now();
}

/** ns (process.hrtime.bigint) → Node's epoch ms. performance.now() runs on the same monotonic clock. */
function hrToEpoch() {
  const ns = process.hrtime.bigint();
  const p = performance.now();
  const offset = Number(ns) / 1e6 - p;
  return (hrNs) => performance.timeOrigin + (Number(hrNs) / 1e6 - offset);
}

/**
 * How far `target`'s epoch-ms clock (a Playwright page or worker) is ahead of Node's: the round trip with the
 * smallest delay of `tries`, its midpoint taken as the moment the target read its clock.
 */
async function clockOffset(target, tries = 15) {
  let best;
  for (let i = 0; i < tries; i++) {
    const a = nodeEpochMs();
    const t = await target.evaluate(() => performance.timeOrigin + performance.now());
    const b = nodeEpochMs();
    if (!best || b - a < best.rtt) best = { rtt: b - a, offset: t - (a + b) / 2 };
  }
  return best;
}

module.exports = { workerProbeSource, pageInitSource, imgPageHtml, nodeEpochMs, hrToEpoch, clockOffset };

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * One page in a fresh Debian Chromium, probed for `windowMs` once pictures flow. `kind`: 'viewer' (the viewer page
 * at `base`/glimpser/ with `query`), 'img' (a browser's own MJPEG <img> of `src`), 'slideshow' (an <img> of the
 * still `src` reloaded every second, as dashboards did before streams). Returns what showed (numbers with their
 * time on Node's clock), how often the picture changed, animation frames, and the main thread's long tasks.
 */
async function measurePage({ kind, base, query = '', src, windowMs, viewport = { width: 1280, height: 800 } }) {
  const { launch } = require('../../test/helpers/browser');
  const b = await launch({ viewport });
  try {
    await b.page.addInitScript(pageInitSource());
    let target;
    if (kind === 'viewer') {
      await b.page.route('**/glimpser/worker.js', async (route) => {
        const res = await route.fetch();
        await route.fulfill({ response: res, body: workerProbeSource() + (await res.text()) });
      });
      await b.page.goto(`${base}/glimpser/${query}`);
      const end = Date.now() + 20000;
      while (b.page.workers().length === 0 && Date.now() < end) await delay(100);
      [target] = b.page.workers();
      if (!target) throw new Error('the viewer page started no worker');
    } else {
      // A page of the same origin (served by the route), so the canvas the <img> is drawn into can be read back.
      await b.page.route(`${base}/bench-probe.html`, (route) => route.fulfill({ contentType: 'text/html', body: imgPageHtml(src, kind === 'slideshow' ? 1000 : 0) }));
      await b.page.goto(`${base}/bench-probe.html`, { waitUntil: 'commit' });
      target = b.page;
    }
    const end = Date.now() + 20000;
    while (Date.now() < end && (await target.evaluate(() => (self.__probe ? self.__probe.shown.length : 0))) < 3) await delay(200);
    await delay(1500);
    const { offset, rtt } = await clockOffset(target);
    const from = await target.evaluate(() => {
      const p = self.__probe;
      return { t: performance.timeOrigin + performance.now(), rafs: p.rafs };
    });
    const mainFrom = await b.page.evaluate(() => ({ rafs: window.__mainRafs, longtasks: window.__longtasks.length }));
    await delay(windowMs);
    const probe = await target.evaluate((f) => ({
      shown: self.__probe.shown.filter((s) => s[1] >= f.t),
      changes: self.__probe.changes.filter((t) => t >= f.t).length,
      rafs: self.__probe.rafs - f.rafs,
      until: performance.timeOrigin + performance.now(),
    }), from);
    const main = await b.page.evaluate((m) => ({ rafs: window.__mainRafs - m.rafs, longtasks: window.__longtasks.slice(m.longtasks) }), mainFrom);
    if (b.errors.length) throw new Error(`page errors: ${b.errors.join('; ')}`);
    const seconds = (probe.until - from.t) / 1000;
    return {
      shown: probe.shown.map(([n, t]) => [n, t - offset]),
      shownPerS: probe.shown.length / seconds,
      changesPerS: probe.changes / seconds,
      rafsPerS: probe.rafs / seconds,
      mainRafsPerS: main.rafs / seconds,
      longtasks: main.longtasks,
      clockRtt: rtt,
      seconds,
    };
  } finally {
    await b.close();
  }
}

/**
 * Source → screen latencies (ms) of what a page showed: each number's time against the camera tick that sent it
 * last before (ticks from process.hrtime.bigint(), brought to Node's epoch clock).
 */
function shownLatencies(shown, sent, frames) {
  const toEpoch = hrToEpoch();
  const out = [];
  for (const [n, t] of shown) {
    for (let i = sent.length - 1; i >= 0; i--) {
      if (i % frames !== n || sent[i] === undefined) continue;
      const s = toEpoch(sent[i]);
      if (s <= t) {
        out.push(t - s);
        break;
      }
    }
  }
  return out;
}

module.exports.measurePage = measurePage;
module.exports.shownLatencies = shownLatencies;

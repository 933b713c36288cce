'use strict';
// N viewers of a stream and one of the camera itself, all in this process, recording every part's arrival
// (bench/lib/part-timer.js) during a window after a warm-up.
const { openTimed } = require('./part-timer');

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Returns { n, via: [viewer, key, ns][], direct: [key, ns][], bodies: Map key → JPEG (from viewer 0, for frame
 * numbers), seconds }. Placeholders are left out. The first viewer waits until frames flow; the others join then.
 */
async function watch(url, n, { camUrl, windowMs, warmupMs = 2000 }) {
  const via = [];
  const direct = [];
  const bodies = new Map();
  let measuring = false;
  const conns = [];
  const onVia = (idx) => (ns, key, headers, body) => {
    if (headers['x-glimpser-placeholder']) return;
    if (body && !bodies.has(key)) bodies.set(key, body);
    if (measuring) via.push([idx, key, ns]);
  };
  try {
    // Node-RED says it runs before its flows have started: 404 until the endpoint exists.
    const end = Date.now() + 30000;
    let first;
    while (!first) {
      first = await openTimed(url, onVia(0), { keepBody: true }).catch((err) => {
        if (Date.now() > end) throw err;
      });
      if (!first) await delay(250);
    }
    conns.push(first);
    while (first.timer.parts < 2 && Date.now() < end) await delay(50);
    if (first.timer.parts < 2) throw new Error(`${url}: no frames within 30 s`);
    for (let i = 1; i < n; i += 50) {
      const batch = await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, k) => openTimed(url, onVia(i + k))));
      conns.push(...batch);
    }
    if (camUrl) {
      conns.push(await openTimed(camUrl, (ns, key) => {
        if (measuring) direct.push([key, ns]);
      }));
    }
    await delay(warmupMs);
    measuring = true;
    const t0 = performance.now();
    await delay(windowMs);
    measuring = false;
    return { n, via, direct, bodies, seconds: (performance.now() - t0) / 1000 };
  } finally {
    for (const c of conns) c.close();
  }
}

module.exports = { watch };

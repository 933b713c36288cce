'use strict';
// The viewer page's tile renderer (viewer/render.js) in real Chromium, on a clock the test sets: the cross-fade
// between pictures, the jitter buffer that shows late pictures at their capture spacing, and the Smooth toggle
// that turns both off. Pictures are flat grays, so the canvas's pixel says which picture (or which blend) shows.
const assert = require('node:assert/strict');
const path = require('node:path');
const { launch } = require('../helpers/browser');

describe('viewer page renderer in Chromium: cross-fade and jitter buffer', function () {
  this.timeout(60000);
  let browser;
  before(async function () {
    browser = await launch();
    await browser.page.setContent('<body></body>');
    await browser.page.addScriptTag({ path: path.join(__dirname, '..', '..', 'viewer', 'render.js') });
  });
  after(async function () {
    await browser?.close();
  });

  /**
   * Plays `frames` ({gray, time, arrival}) through a fresh renderer, drawing at every `step` ms from `from` to `to`,
   * and returns the canvas's gray level at each draw.
   */
  function play(frames, { smooth, from, to, step = 10 }) {
    return browser.page.evaluate(async ({ frames, smooth, from, to, step }) => {
      // A fresh canvas: nothing of an earlier run may show before the first picture.
      const canvas = document.body.appendChild(document.createElement('canvas'));
      const r = new self.GlimpserRender.TileRenderer(canvas, () => {});
      const bitmaps = [];
      for (const f of frames) {
        const img = new ImageData(8, 8);
        for (let i = 0; i < img.data.length; i += 4) img.data.set([f.gray, f.gray, f.gray, 255], i);
        bitmaps.push(await createImageBitmap(img));
      }
      const ctx = canvas.getContext('2d');
      const seen = [];
      let next = 0;
      for (let now = from; now <= to; now += step) {
        while (next < frames.length && frames[next].arrival <= now) {
          r.push(bitmaps[next], frames[next].time, frames[next].arrival, false);
          next++;
        }
        r.draw(now, smooth);
        seen.push({ now, gray: ctx.getImageData(4, 4, 1, 1).data[0] });
      }
      r.dispose();
      canvas.remove();
      return seen;
    }, { frames, smooth, from, to, step });
  }

  /** When each picture (by its gray level) was first shown whole. */
  function shownAt(seen, grays) {
    return grays.map((g) => seen.find((s) => s.gray === g)?.now);
  }

  it('Smooth on: each new picture is blended in over most of a frame interval; off: it replaces the old one at once', async function () {
    const frames = [0, 100, 200, 300].map((t, i) => ({ gray: i % 2 ? 250 : 10, time: t, arrival: t + 20 }));
    const smooth = await play(frames, { smooth: true, from: 0, to: 600, step: 5 });
    const blends = smooth.filter((s) => s.gray > 30 && s.gray < 230);
    assert.ok(blends.length >= 10, `in-between grays while fading: ${blends.length} draws`);
    assert.equal(smooth.at(-1).gray, 250, 'the last picture whole at the end');
    const hard = await play(frames, { smooth: false, from: 0, to: 600, step: 5 });
    assert.equal(hard.filter((s) => s.gray > 30 && s.gray < 230).length, 0, 'no blend with Smooth off');
    assert.deepEqual(shownAt(hard, [10, 250]), [20, 120], 'each picture as it arrives');
  });

  it('a picture that arrives late by less than the buffer is still shown at its capture spacing (Smooth off: as it arrives)', async function () {
    // Four pictures 100 ms apart, 30 ms in transit, the third 60 ms late: arrivals at 30, 130, 290, 330.
    const grays = [20, 90, 160, 230];
    const frames = grays.map((gray, i) => ({ gray, time: i * 100, arrival: i * 100 + 30 + (i === 2 ? 60 : 0) }));
    const steady = shownAt(await play(frames, { smooth: true, from: 0, to: 800, step: 5 }), grays);
    // Whole once its fade ends; the first has nothing to fade from, the others fade alike, so their whole-picture
    // times keep the capture spacing.
    const gaps = steady.slice(2).map((t, i) => t - steady[i + 1]);
    for (const g of gaps) assert.ok(Math.abs(g - 100) <= 10, `spacing with the buffer: ${gaps.join(', ')} ms (shown at ${steady.join(', ')})`);
    const raw = shownAt(await play(frames, { smooth: false, from: 0, to: 800, step: 5 }), grays);
    assert.deepEqual(raw, [30, 130, 290, 330], 'without the buffer the late picture and the next one come 40 ms apart');
  });
});

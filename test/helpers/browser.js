'use strict';
// Debian's Chromium driven by playwright-core (never a downloaded browser), and pixel checks on screenshots.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const sharp = require('sharp');

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

function chromiumPath() {
  return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
}

/** A fresh browser context (its own profile folder); `close()` removes everything. */
async function launch(options = {}) {
  const { chromium } = require('playwright-core');
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpser-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, { executablePath: chromiumPath(), args: ARGS, ...options });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return {
    context,
    page,
    errors,
    close: async () => {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** A screenshot as raw RGB pixels. */
async function grab(page) {
  const png = await page.screenshot();
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, png };
}

/** Mean absolute difference (0..255) of two screenshots inside `rect` ({x, y, width, height}, CSS px at DPR 1). */
function regionDiff(a, b, rect) {
  const x0 = Math.max(0, Math.round(rect.x) + 2);
  const y0 = Math.max(0, Math.round(rect.y) + 2);
  const x1 = Math.min(a.width, Math.round(rect.x + rect.width) - 2);
  const y1 = Math.min(a.height, Math.round(rect.y + rect.height) - 2);
  let sum = 0;
  let n = 0;
  for (let y = y0; y < y1; y += 2) {
    for (let x = x0; x < x1; x += 2) {
      const i = (y * a.width + x) * 3;
      sum += Math.abs(a.data[i] - b.data[i]) + Math.abs(a.data[i + 1] - b.data[i + 1]) + Math.abs(a.data[i + 2] - b.data[i + 2]);
      n += 3;
    }
  }
  return n ? sum / n : 0;
}

/** Mean brightness-ish content check: the region is not one flat colour (a picture was drawn). */
function regionSpread(a, rect) {
  let min = 255;
  let max = 0;
  for (let y = Math.round(rect.y) + 2; y < Math.round(rect.y + rect.height) - 2; y += 3) {
    for (let x = Math.round(rect.x) + 2; x < Math.round(rect.x + rect.width) - 2; x += 3) {
      const v = a.data[(y * a.width + x) * 3 + 1];
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  return max - min;
}

/** The canvases' rectangles by tile id (only the picture, not the caption strip at its bottom). */
async function tileRects(page) {
  return page.evaluate(() => {
    const out = {};
    for (const el of document.querySelectorAll('.tile')) {
      const r = el.querySelector('canvas').getBoundingClientRect();
      out[el.dataset.id] = { x: r.x, y: r.y, width: r.width, height: r.height * 0.8 };
    }
    return out;
  });
}

/**
 * Screenshots until every tile in `ids` differs from the first screenshot (or `withinMs` passed).
 * Returns the ids that did not change.
 */
async function unchangedTiles(page, ids, withinMs, minDiff = 2) {
  const rects = await tileRects(page);
  const first = await grab(page);
  const start = Date.now();
  const left = new Set(ids);
  while (left.size > 0 && Date.now() - start < withinMs) {
    const now = await grab(page);
    for (const id of [...left]) if (rects[id] && regionDiff(first, now, rects[id]) >= minDiff) left.delete(id);
  }
  return [...left];
}

module.exports = { launch, grab, regionDiff, regionSpread, tileRects, unchangedTiles, chromiumPath };

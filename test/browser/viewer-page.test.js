'use strict';
// The viewer page in a real Chromium (Debian's, driven by playwright-core) against a real Node-RED runtime:
// 16 cameras moving on one page, a killed FFmpeg that leaves the others and the page's main thread alone,
// the server gone for 5 s, a hidden page, full screen with swipe and pinch on a phone-sized page.
const assert = require('node:assert/strict');
const helper = require('../helpers/node-red').testHelper();
const poolNode = require('../../nodes/process-pool.js');
const sourceNode = require('../../nodes/ffmpeg-source.js');
const mjpegOut = require('../../nodes/mjpeg-out.js');
const viewerPage = require('../../nodes/viewer-page.js');
const { withCatalogs } = require('../helpers/i18n');
// The page's words in English, as a user reads them (the test helper's RED._ would give the keys).
const [viewerPageInEnglish] = withCatalogs([viewerPage]);
const { recordFrames } = require('../helpers/ffmpeg-frames');
const { launch, grab, regionDiff, regionSpread, tileRects, unchangedTiles } = require('../helpers/browser');
const { delay, isAlive, until } = require('../helpers/procs');
const { listen, closeServer, connectionsOf } = require('../helpers/http-server');
const { endpointOf: endpointIn } = require('../helpers/endpoints');
const sharp = require('sharp');

const endpointOf = (id) => endpointIn(helper, id);

/** `n` mjpeg-out nodes that the test feeds itself with recorded frames (no FFmpeg), for tests about the page rather than the cameras. */
function recordedFlow(n) {
  return Array.from({ length: n }, (_, i) => ({
    id: `rec${String(i).padStart(2, '0')}`,
    type: 'glimpser-mjpeg-out',
    name: `Recorded ${String(i + 1).padStart(2, '0')}`,
    path: `/glimpser/rec${i}.mjpg`,
    stillPath: '',
    maxViewers: 100,
    stallTimeout: 30,
    stillTimeout: 10,
    wires: [],
  }));
}

/**
 * `n` real FFmpeg test cameras (small, 5 fps) into mjpeg-out nodes, with a pool that restarts after about 2 s.
 * Each a different size: the pool shares one process among sources with the same signature.
 */
function cameraFlow(n) {
  const flow = [{ id: 'pool', type: 'glimpser-process-pool', idleGrace: 1, backoffBase: 2, backoffCap: 4 }];
  for (let i = 0; i < n; i++) {
    const size = `${160 + 16 * i}x120`;
    flow.push({ id: `src${i}`, type: 'glimpser-ffmpeg-source', name: `cam${i}`, pool: 'pool', source: `testsrc2=size=${size}:rate=5`, fps: 5, quality: 8, startMode: 'always', wires: [[`out${i}`]] });
    flow.push({ id: `out${i}`, type: 'glimpser-mjpeg-out', name: `Camera ${i}`, path: `/glimpser/cam${i}.mjpg`, stillPath: '', maxViewers: 100, stallTimeout: 30, stillTimeout: 10, wires: [] });
  }
  return flow;
}

describe('viewer page in Chromium (real Node-RED runtime)', function () {
  this.timeout(90000);
  let server;
  let port;
  let httpNode;
  let browser;
  let feeder;
  const capture = (RED) => {
    httpNode = RED.httpNode;
  };

  beforeEach(function (done) {
    helper.startServer(done);
  });
  afterEach(async function () {
    clearInterval(feeder);
    if (browser) await browser.close();
    browser = undefined;
    await helper.unload();
    if (server) {
      await closeServer(server);
      server = undefined;
    }
    await new Promise((r) => helper.stopServer(r));
  });

  /** Node-RED's HTTP side on `p` (0: a free port), as its own server so that a test can take it away. */
  async function serve(p = 0) {
    server = await listen((req, res) => httpNode(req, res), p);
    return server.address().port;
  }

  async function load(flow) {
    await helper.load([poolNode, sourceNode, mjpegOut, viewerPageInEnglish, capture], flow);
    port = await serve();
    return `http://127.0.0.1:${port}/glimpser/`;
  }

  /** Feeds recorded nodes at `fps`, each tile a different frame of the clip. */
  function feed(ids, frames, fps = 5) {
    let k = 0;
    feeder = setInterval(() => {
      k++;
      // A node a deploy removed gets nothing.
      ids.forEach((id, i) => helper.getNode(id)?.receive({ payload: frames[(k + i * 3) % frames.length], frame: { seq: k, time: Date.now() } }));
    }, 1000 / fps);
  }

  /** `n` recorded cameras loaded and fed (frames of `size`): their node ids and the page's URL. */
  async function loadRecorded(n, size = '160x120') {
    const flow = recordedFlow(n);
    const ids = flow.map((node) => node.id);
    const url = await load(flow);
    feed(ids, await recordFrames({ count: 20, size, rate: 5 }));
    return { flow, ids, url };
  }

  /** The viewer page's server on this runtime. */
  const viewerServerOf = () => viewerPage.serverFor(httpNode);
  /** The page's endpoint viewers, per node id. */
  const viewersOf = (ids) => ids.map((id) => endpointOf(id).viewers);
  const stats = (page) => page.evaluate(() => window.glimpserViewer.stats());
  /** The tiles' grid as drawn: columns, rows, its size and the room below the bar, in CSS px. */
  const gridOf = (page) =>
    page.evaluate(() => {
      const rects = [...document.querySelectorAll('.tile canvas')].map((c) => c.getBoundingClientRect());
      const grid = document.getElementById('grid');
      const top = grid.getBoundingClientRect().top;
      const left = Math.min(...rects.map((r) => r.left));
      const right = Math.max(...rects.map((r) => r.right));
      const bottom = Math.max(...rects.map((r) => r.bottom));
      return {
        columns: new Set(rects.map((r) => Math.round(r.left))).size,
        rows: new Set(rects.map((r) => Math.round(r.top))).size,
        width: Math.round(right - left),
        height: Math.round(bottom - Math.min(...rects.map((r) => r.top))),
        bottom: Math.round(bottom),
        room: { width: Math.round(grid.clientWidth), height: Math.round(window.innerHeight - top) },
        window: { width: window.innerWidth, height: window.innerHeight },
      };
    });

  it('16 cameras on one page all move: every picture changes within 2 s, over two long connections', async function () {
    // Recorded cameras: 16 FFmpegs starting (and switching outputs when the page subscribes, 32 processes for a
    // moment) starved the Chromium of the other runtime's suite, which .ci/run runs alongside (heartbeat gaps of
    // 151 and 238 ms in its killed-FFmpeg test). The real-FFmpeg path is the next test's.
    const { ids, url } = await loadRecorded(16);
    browser = await launch({ viewport: { width: 1600, height: 1100 } });
    const { page } = browser;
    await page.goto(url);
    await until(async () => {
      const s = await stats(page);
      return s.tiles && ids.every((id) => s.tiles[id] && s.tiles[id].frames > 2);
    }, 'frames on every tile', 30000);
    // The rate a tile shows is right from its first second: measured over the whole 2 s window, every tile read
    // 2.5 fps of 5 here (5 pictures, none dropped), and the check below read that same message now and then (#16).
    const early = await stats(page);
    for (const id of ids) assert.ok(early.tiles[id].fps >= 3, `${id} at first: ${early.tiles[id].fps} fps of 5 (${early.tiles[id].frames} pictures)`);
    assert.deepEqual(viewersOf(ids), ids.map(() => 1), 'every tile is one viewer of its endpoint');
    const unchanged = await unchangedTiles(page, ids, 2000);
    assert.deepEqual(unchanged, [], 'tiles whose picture did not change within 2 s');
    const shot = await grab(page);
    const rects = await tileRects(page);
    for (const id of ids) assert.ok(regionSpread(shot, rects[id]) > 60, `${id} shows a picture`);
    // Pictures on one connection, states on another: whatever the number of tiles (browsers allow ~6 per host).
    const viewer = viewerServerOf();
    assert.ok(viewer, 'viewer server found');
    assert.equal(viewer.connections().length, 1, 'one picture connection');
    assert.equal(viewer.controlConnections, 1, 'one control connection');
    const fps = await stats(page);
    for (const id of ids) assert.ok(fps.tiles[id].fps >= 3, `${id}: ${fps.tiles[id].fps} fps of 5`);
    // The tiles fill the window: a 4×4 grid, every row in view, as wide or as tall as the window allows.
    const grid = await gridOf(page);
    assert.equal(grid.columns, 4, `columns: ${grid.columns}`);
    assert.equal(grid.rows, 4, `rows: ${grid.rows}`);
    assert.ok(grid.bottom <= grid.window.height, `the last row ends at ${grid.bottom} of ${grid.window.height} px`);
    assert.ok(grid.width >= 0.9 * grid.room.width || grid.height >= 0.9 * grid.room.height, `the grid takes ${grid.width}x${grid.height} of ${grid.room.width}x${grid.room.height}`);
    assert.deepEqual(browser.errors, []);
  });

  it('one camera fills the window, on a desktop and on a phone', async function () {
    const { url } = await loadRecorded(1, '640x360');
    const sizes = {};
    for (const [name, options] of [['desktop', { viewport: { width: 1600, height: 1000 } }], ['phone', { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, hasTouch: true, isMobile: true }]]) {
      browser = await launch(options);
      await browser.page.goto(url);
      await until(async () => (await stats(browser.page)).tiles?.rec00?.frames > 2, 'frames', 30000);
      await browser.page.waitForTimeout(300); // the layout after the picture's size is known
      sizes[name] = await gridOf(browser.page);
      await browser.close();
      browser = undefined;
    }
    // Before: a 320-wide tile in the corner of the desktop, half the phone's width.
    for (const [name, g] of Object.entries(sizes)) {
      assert.ok(g.width >= 0.95 * g.room.width || g.height >= 0.95 * g.room.height, `${name}: the tile is ${g.width}x${g.height} in ${g.room.width}x${g.room.height}`);
      assert.ok(g.bottom <= g.window.height, `${name}: in view`);
    }
    assert.ok(sizes.phone.width >= 0.95 * sizes.phone.room.width, `phone: ${sizes.phone.width} of ${sizes.phone.room.width} px wide`);
  });

  it('the switches say what they do in words a phone shows, and the full-screen × sits in the middle of its round button', async function () {
    const { url } = await loadRecorded(2, '640x480');
    browser = await launch({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, hasTouch: true, isMobile: true });
    const { page } = browser;
    await page.goto(url);
    await until(async () => (await stats(page)).tiles?.rec00?.frames > 2, 'frames', 30000);
    const hints = await page.evaluate(() =>
      ['smooth', 'aware'].map((k) => {
        const el = document.getElementById(`${k}-hint`);
        const r = el.getBoundingClientRect();
        return { text: el.textContent, visible: r.width > 0 && r.height > 0 && r.right <= window.innerWidth && r.bottom <= window.innerHeight, px: parseFloat(getComputedStyle(el).fontSize) };
      }),
    );
    assert.deepEqual(hints.map((h) => h.text), ['fade pictures in', '2 fps while still']);
    for (const h of hints) {
      assert.ok(h.visible, `"${h.text}" is on screen`);
      assert.ok(h.px >= 12, `"${h.text}" at ${h.px} px`);
    }
    await page.tap('.tile[data-id="rec00"]');
    await page.waitForSelector('.tile.is-full[data-id="rec00"]');
    const box = await page.locator('#full-close').boundingBox();
    const png = await page.screenshot({ clip: box });
    const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    // The cross: the bright pixels (the button is dark, the picture under it is dimmed by it).
    let n = 0;
    let sx = 0;
    let sy = 0;
    for (let y = 0; y < info.height; y++) {
      for (let x = 0; x < info.width; x++) {
        const i = (y * info.width + x) * 3;
        if (data[i] > 230 && data[i + 1] > 230 && data[i + 2] > 230) {
          n++;
          sx += x;
          sy += y;
        }
      }
    }
    assert.ok(n > 20, `a cross drawn (${n} bright pixels)`);
    const off = [sx / n - (info.width - 1) / 2, sy / n - (info.height - 1) / 2].map((d) => Math.abs(d) / 2); // CSS px at DPR 2
    // The font glyph it was sat 0.6 px low here (more in other fonts and at other sizes); the drawn cross is centred.
    assert.ok(off[0] <= 0.3 && off[1] <= 0.3, `the × is ${off[0].toFixed(2)}, ${off[1].toFixed(2)} px off the button's centre`);
    assert.deepEqual(browser.errors, []);
  });

  it('a killed FFmpeg: its badge and placeholder within 2 s, the other tiles keep moving, no long task, and it recovers by itself', async function () {
    const url = await load(cameraFlow(4));
    const pool = helper.getNode('pool').pool;
    await until(() => [0, 1, 2, 3].every((i) => pool.stream(`cam${i}`).state === 'healthy'), 'four healthy cameras', 30000);
    browser = await launch({ viewport: { width: 1280, height: 800 } });
    const { page } = browser;
    await page.goto(url);
    const ids = ['out0', 'out1', 'out2', 'out3'];
    await until(async () => {
      const s = await stats(page);
      return s.tiles && ids.every((id) => s.tiles[id] && s.tiles[id].frames > 2);
    }, 'frames on every tile', 30000);
    const [pid] = pool.stream('cam1').snapshot().pids;
    assert.ok(pid, 'cam1 runs an FFmpeg');
    assert.equal(new Set([0, 1, 2, 3].map((i) => pool.stream(`cam${i}`).snapshot().pids[0])).size, 4, 'one FFmpeg per camera');
    await page.evaluate(() => window.glimpserViewer.resetHeartbeat());
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    const tileOf = (id) => page.evaluate((i) => window.glimpserViewer.tiles().find((x) => x.id === i), id);
    await until(async () => {
      const t = await tileOf('out1');
      return t.state !== 'healthy' && / is-placeholder/.test(t.classes);
    }, 'badge and placeholder', 5000);
    const after = Date.now() - killedAt;
    const badge = await page.evaluate(() => document.querySelector('.tile[data-id="out1"] .badge').dataset.state);
    assert.ok(['recovering', 'starting', 'failed'].includes(badge), `badge ${badge}`);
    assert.ok(!isAlive(pid), 'the FFmpeg is gone');
    // Meanwhile the other tiles keep changing.
    assert.deepEqual(await unchangedTiles(page, ['out0', 'out2', 'out3'], 2000), []);
    // The supervisor restarts it after its backoff: the tile shows pictures again by itself.
    await until(async () => {
      const t = await tileOf('out1');
      return t.state === 'healthy' && !/ is-placeholder/.test(t.classes);
    }, 'the tile back to pictures', 20000);
    assert.deepEqual(await unchangedTiles(page, ids, 2000), [], 'all four move again');
    const hb = await page.evaluate(() => window.glimpserViewer.heartbeat);
    // The page's own work never blocks its main thread (Chromium's Long Tasks API). The heartbeat's longest gap is
    // printed, not asserted: with no long task behind it, a gap is the machine starving the whole browser (CI runs
    // two suites side by side on two cores: 309 ms once, with no long task), not the page.
    assert.deepEqual(hb.longTasks.filter((d) => d > 100), [], `long tasks: ${hb.longTasks}`);
    console.log(`      (heartbeat: longest gap ${hb.maxGapMs.toFixed(0)} ms, long tasks ${JSON.stringify(hb.longTasks)}; badge after ${after} ms)`);
    assert.ok(after <= 2000, `badge and placeholder after ${after} ms`);
    assert.deepEqual(browser.errors, []);
  });

  it('Node-RED\'s HTTP server gone for 5 s: the page reconnects by itself, without a reload, and every tile moves again', async function () {
    const { ids, url } = await loadRecorded(4);
    browser = await launch({ viewport: { width: 1280, height: 800 } });
    const { page } = browser;
    await page.goto(url);
    await page.evaluate(() => (window.notReloaded = true));
    await until(async () => (await stats(page)).tiles?.rec03?.frames > 2, 'frames', 30000);
    const gone = server;
    await closeServer(gone);
    await until(() => connectionsOf(gone).size === 0, 'every connection closed');
    await page.waitForFunction(() => !document.getElementById('conn').hidden, null, { timeout: 5000 });
    await delay(1200); // a frame still being decoded, and the next stats message
    const cut = (await stats(page)).tiles.rec03.frames;
    await delay(5000);
    assert.equal((await stats(page)).tiles.rec03.frames, cut, 'nothing arrives while the server is down');
    await serve(port);
    await page.waitForFunction(() => document.getElementById('conn').hidden, null, { timeout: 10000 });
    await until(async () => (await stats(page)).tiles.rec03.frames > cut + 3, 'frames again', 10000);
    assert.equal(await page.evaluate(() => window.notReloaded), true, 'the same page, not reloaded');
    assert.deepEqual(await unchangedTiles(page, ids, 2000), []);
    assert.deepEqual(viewersOf(ids), [1, 1, 1, 1], 'no viewer left over from the old connection');
  });

  it('a full deploy: an unchanged node keeps its tile\'s viewer, a changed one brings its new name, a removed one its tile goes', async function () {
    const { flow, url } = await loadRecorded(3);
    browser = await launch({ viewport: { width: 1280, height: 800 } });
    const { page } = browser;
    await page.goto(url);
    await page.evaluate(() => (window.notReloaded = true));
    await until(async () => (await stats(page)).tiles?.rec02?.frames > 2, 'frames', 30000);
    const kept = endpointOf('rec00');
    const changedBefore = endpointOf('rec01');
    const next = [{ ...flow[0] }, { ...flow[1], name: 'Renamed', maxViewers: 50 }];
    await helper.setFlows(next, 'full');
    await until(async () => {
      const names = await page.evaluate(() => window.glimpserViewer.tiles().map((t) => t.name).sort().join());
      return names === 'Recorded 01,Renamed';
    }, 'the new tile list', 10000);
    assert.equal(endpointOf('rec00'), kept, 'the unchanged node took its endpoint over');
    assert.notEqual(endpointOf('rec01'), changedBefore, 'the changed node has a new endpoint');
    await until(() => endpointOf('rec01').viewers === 1 && kept.viewers === 1, 'both tiles are viewers again', 10000);
    assert.equal(changedBefore.viewers, 0, 'nothing left on the old endpoint');
    assert.deepEqual(await unchangedTiles(page, ['rec00', 'rec01'], 2000), []);
    assert.equal(await page.evaluate(() => window.notReloaded), true);
  });

  it('a hidden page receives no frames (the server stops sending them); visible again, it resumes', async function () {
    const { ids, url } = await loadRecorded(3);
    browser = await launch({ viewport: { width: 1280, height: 800 } });
    const { page } = browser;
    await page.goto(url);
    await until(async () => (await stats(page)).tiles?.rec02?.frames > 2, 'frames', 30000);
    const mux = () => viewerServerOf().connections()[0];
    // Headless Chromium reports every page visible (a background tab, a minimised window, even headful on Xvfb
    // under Playwright): the page is told it is hidden the way a browser tells it, through Page Visibility.
    const setVisibility = (state) =>
      page.evaluate((s) => {
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => s });
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => s === 'hidden' });
        document.dispatchEvent(new Event('visibilitychange'));
      }, state);
    await setVisibility('hidden');
    await until(() => viewersOf(ids).every((n) => n === 0), 'no viewers while hidden', 5000);
    const framesOut = mux().framesOut;
    await delay(1500);
    assert.equal(mux().framesOut, framesOut, 'no frame sent to a hidden page');
    await setVisibility('visible');
    await until(() => viewersOf(ids).every((n) => n === 1), 'viewers again', 5000);
    await until(() => mux().framesOut > framesOut + 6, 'frames again', 5000);
  });

  it('a tile scrolled out of view receives nothing; where OffscreenCanvas is missing the page draws (?render=page)', async function () {
    const { ids, url } = await loadRecorded(12);
    // Twelve tiles would fit a 700x500 window; in 400x300 they would be too small to see, so the page scrolls.
    browser = await launch({ viewport: { width: 400, height: 300 } });
    const { page } = browser;
    await page.goto(`${url}?render=page`);
    assert.equal(await page.evaluate(() => window.glimpserViewer.offscreen), false);
    await until(async () => (await stats(page)).tiles?.rec00?.frames > 2, 'frames', 30000);
    const wanted = await page.evaluate(() => window.glimpserViewer.wanted());
    assert.ok(wanted.includes('rec00') && !wanted.includes('rec11'), `wanted ${wanted}`);
    await until(() => endpointOf('rec11').viewers === 0 && endpointOf('rec00').viewers === 1, 'only visible tiles are viewers');
    assert.deepEqual(await unchangedTiles(page, ['rec00', 'rec01'], 2000), []);
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await until(() => endpointOf('rec11').viewers === 1 && endpointOf('rec00').viewers === 0, 'scrolled: the other tiles', 5000);
    assert.deepEqual(await unchangedTiles(page, ['rec11'], 2000), []);
  });

  it('on a phone: tap for full screen (one tile asked for, at full size), swipe to the next camera, pinch to zoom', async function () {
    // Four 4:3 cameras: one column of tiles about 240 px wide, each asking for a 320-wide thumbnail.
    const { ids, url } = await loadRecorded(4, '640x480');
    browser = await launch({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, hasTouch: true, isMobile: true });
    const { page } = browser;
    await page.goto(url);
    await until(async () => (await stats(page)).tiles?.rec00?.frames > 2, 'frames', 30000);
    await until(() => ids.every((id) => [...endpointOf(id).hub][0]?.variant === 320), 'grid tiles take 320-wide thumbnails', 5000);
    await page.tap('.tile[data-id="rec00"]');
    await page.waitForSelector('.tile.is-full[data-id="rec00"]');
    await until(() => viewersOf(ids).join() === '1,0,0,0', 'only the full-screen tile is asked for', 5000);
    // Full screen asks for the whole picture (390 px: the 640-wide main JPEG); grid tiles asked for 320-wide thumbnails.
    await until(() => [...endpointOf('rec00').hub][0]?.variant === 0, 'the main JPEG for the full-screen tile', 5000);
    const cdp = await browser.context.newCDPSession(page);
    const touch = (type, points) => cdp.send('Input.dispatchTouchEvent', { type, touchPoints: points.map(([x, y], id) => ({ x, y, id })) });
    await touch('touchStart', [[300, 400]]);
    await touch('touchMove', [[200, 405]]);
    await touch('touchMove', [[100, 410]]);
    await touch('touchEnd', []);
    await page.waitForSelector('.tile.is-full[data-id="rec01"]', { timeout: 3000 });
    await until(() => viewersOf(ids).join() === '0,1,0,0', 'the swiped-to tile is asked for', 5000);
    await touch('touchStart', [[150, 400], [240, 400]]);
    for (let d = 100; d <= 250; d += 50) await touch('touchMove', [[195 - d / 2, 400], [195 + d / 2, 400]]);
    await touch('touchEnd', []);
    const transform = await page.evaluate(() => document.querySelector('.tile.is-full canvas').style.transform);
    const scale = Number(/scale\(([\d.]+)\)/.exec(transform)?.[1]);
    assert.ok(scale > 2, `pinched to ${transform}`);
    await page.tap('#full-close');
    await until(() => viewersOf(ids).every((n) => n === 1), 'back to the grid', 5000);
  });
});

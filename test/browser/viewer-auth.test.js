'use strict';
// The viewer page in a real `node-red` process with httpNodeAuth, httpNodeRoot and glimpser.viewerPath set in
// settings.js: every part of the page (page, scripts, control and picture channels) asks for the credentials
// exactly as http-in routes do, and Chromium, given them once, shows every camera moving (the worker's fetches and
// the EventSource carry them).
const assert = require('node:assert/strict');
const http = require('node:http');
const { startNodeRed } = require('../helpers/node-red-process');
const { requireFromNodeRed } = require('../helpers/node-red');
const { launch, unchangedTiles } = require('../helpers/browser');
const { childrenOf, isAlive, until } = require('../helpers/procs');

const USER = 'cam';
const PASS = 'wall-of-cameras';

function get(url, auth) {
  return new Promise((resolve, reject) => {
    const headers = auth ? { Authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {};
    const req = http.get(url, { agent: false, headers }, (res) => {
      resolve({ status: res.statusCode, headers: res.headers });
      res.destroy();
    });
    req.on('error', reject);
  });
}

describe('viewer page behind httpNodeAuth in a real node-red (httpNodeRoot /api, viewerPath /wall)', function () {
  this.timeout(90000);
  let nr;
  let browser;
  after(async function () {
    if (browser) await browser.close();
    if (nr) {
      const ffmpegs = childrenOf(nr.child.pid);
      await nr.stop();
      for (const p of ffmpegs) await until(() => !isAlive(p), `FFmpeg ${p} gone`, 10000);
    }
  });

  it('asks for the credentials on every path of the page, and with them shows every camera moving', async function () {
    // Node-RED takes bcryptjs when @node-rs/bcrypt is missing: the same hash format either way.
    const hash = requireFromNodeRed('bcryptjs').hashSync(PASS, 8);
    const flow = [];
    for (let i = 0; i < 2; i++) {
      flow.push({ id: `src${i}`, type: 'glimpser-ffmpeg-source', z: 'tab', name: `cam${i}`, source: `testsrc2=size=${160 + 32 * i}x120:rate=5`, fps: 5, quality: 8, startMode: 'always', wires: [[`out${i}`]] });
      flow.push({ id: `out${i}`, type: 'glimpser-mjpeg-out', z: 'tab', name: `Camera ${i}`, path: `/glimpser/cam${i}.mjpg`, stillPath: '', maxViewers: 100, stallTimeout: 30, stillTimeout: 10, wires: [] });
    }
    flow.unshift({ id: 'tab', type: 'tab', label: 'cameras' });
    nr = await startNodeRed(flow, {
      settings: `httpNodeRoot: '/api', httpNodeAuth: { user: ${JSON.stringify(USER)}, pass: ${JSON.stringify(hash)} }, glimpser: { viewerPath: '/wall' }`,
    });
    const base = `http://127.0.0.1:${nr.port}`;
    await until(() => /\[glimpser\] viewer page: \/api\/wall\//.test(nr.output()), 'the log names the page', 10000);

    for (const p of ['wall/', 'wall/worker.js', 'wall/api/events', 'wall/api/frames', 'wall/api/tiles']) {
      const r = await get(`${base}/api/${p}`);
      assert.equal(r.status, 401, `/api/${p} without credentials`);
      assert.match(r.headers['www-authenticate'] ?? '', /^Basic/);
      assert.equal((await get(`${base}/api/${p}`, `${USER}:nope`)).status, 401, `/api/${p} with a wrong password`);
    }
    assert.equal((await get(`${base}/api/wall/`, `${USER}:${PASS}`)).status, 200);
    const redirect = await get(`${base}/api/wall?x=1`, `${USER}:${PASS}`);
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, 'wall/?x=1', 'relative, so it holds behind any prefix');
    assert.equal((await get(`${base}/api/glimpser/`, `${USER}:${PASS}`)).status, 404, 'the default path is not served when another is set');

    browser = await launch({ viewport: { width: 1000, height: 600 }, httpCredentials: { username: USER, password: PASS } });
    const { page } = browser;
    const response = await page.goto(`${base}/api/wall/`);
    assert.equal(response.status(), 200);
    await until(async () => {
      const s = await page.evaluate(() => window.glimpserViewer.stats());
      return s.tiles && ['out0', 'out1'].every((id) => s.tiles[id] && s.tiles[id].frames > 2);
    }, 'frames on both tiles', 30000);
    assert.deepEqual(await unchangedTiles(page, ['out0', 'out1'], 2000), []);
    // The runtime's catalog translated the page (the test helper's runtime would show keys).
    assert.equal(await page.title(), 'Cameras');
    assert.deepEqual(await page.$$eval('.badge', (els) => els.map((e) => e.textContent)), ['live', 'live']);
    assert.deepEqual(browser.errors, []);
  });
  it('settings.js with glimpser.idleFps out of range and a bad viewerPath: a warning that says why, and what happens instead', async function () {
    const first = await startNodeRed([], { settings: `glimpser: { idleFps: 99 }` });
    try {
      await until(() => /glimpser\.idleFps in settings\.js must be a number from 0\.25 to 60, got 99: the page uses 2/.test(first.output()), 'the idleFps warning', 10000);
      const page = await new Promise((resolve, reject) => http.get(`http://127.0.0.1:${first.port}/glimpser/`, (res) => {
        let body = '';
        res.on('data', (c) => { body += c; });
        res.on('end', () => resolve({ status: res.statusCode, body }));
      }).on('error', reject));
      assert.equal(page.status, 200, 'the page is still served');
      assert.match(page.body, /"idleFps":2[,}]/, 'with the default idle rate');
    } finally {
      first.child.kill('SIGTERM');
      await first.exited;
      first.cleanup();
    }
    const second = await startNodeRed([], { settings: `glimpser: { viewerPath: 'not a path' }` });
    try {
      await until(() => /\[glimpser\] glimpser\.viewerPath in settings\.js is "not a path", not a path such as \/glimpser: the viewer page is not served/.test(second.output()), 'the viewerPath warning', 10000);
      assert.equal((await get(`http://127.0.0.1:${second.port}/glimpser/`)).status, 404);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
      second.cleanup();
    }
  });
});

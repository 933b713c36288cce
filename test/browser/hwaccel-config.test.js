'use strict';
// The hwaccel-config node in a real Node-RED runtime: its plan() for ffmpeg-source, its admin endpoints (probe
// results, probe again) with the binary taken from a deployed process-pool node, and Node-RED's permission check
// on those endpoints in a real node-red process with adminAuth.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const poolNode = require('../../nodes/process-pool.js');
const hwNode = require('../../nodes/hwaccel-config.js');
const { clearProbeCache } = require('../../dist/core/hwaccel/probe');
const { findOnPath } = require('../../dist/core/ffmpeg/binary');
const { startNodeRed, request } = require('../helpers/node-red-process');
const { tempDir } = require('../helpers/fixtures');
const { launch } = require('../helpers/browser');
const { testHelper, useRuntime } = require('../helpers/node-red');

const helper = testHelper();

const FAKE = path.join(__dirname, '..', 'fixtures', 'fake-ffmpeg', 'ffmpeg-hwaccel-probe');
const ROUTE = '/glimpser-hwaccel-config/probe';

function flow(hwProps = {}) {
  return [
    { id: 'pool', type: 'glimpser-process-pool', ffmpegPath: FAKE, idleGrace: 0 },
    { id: 'hw', type: 'glimpser-hwaccel-config', name: '', mode: 'auto', device: '', retryInterval: 10, ...hwProps },
  ];
}

describe('hwaccel-config node (Node-RED runtime, fake FFmpeg where vaapi works and cuda fails)', function () {
  this.timeout(60000);
  beforeEach(function () {
    clearProbeCache();
  });
  useRuntime(helper);

  it('plan(): auto takes the method that passed, for the binary the stream runs', async function () {
    await helper.load([poolNode, hwNode], flow());
    const hw = helper.getNode('hw');
    const { plan, report, note } = await hw.plan(FAKE);
    assert.equal(plan.method, 'vaapi');
    assert.equal(note, undefined);
    assert.equal(report.ffmpegPath, FAKE);
    assert.equal(plan.scaleChain({ width: 640 }, 'yuv420p'), 'scale_vaapi=w=640:h=-2:format=nv12,hwdownload,format=nv12|p010le');
    const policy = hw.createFallback(plan);
    assert.equal(policy.accelerated, true);
    assert.equal(policy.method, 'vaapi');
  });

  it('plan(): a named method that failed the probe gives software and says why; off gives software silently', async function () {
    await helper.load([poolNode, hwNode], [...flow({ mode: 'cuda', device: '0' }), { id: 'hw2', type: 'glimpser-hwaccel-config', mode: 'off', device: '', retryInterval: 0 }]);
    const cuda = await helper.getNode('hw').plan(FAKE);
    assert.equal(cuda.plan.method, 'software');
    assert.match(cuda.note, /cuda on 0 did not pass the probe \(cu->cuInit\(0\) failed -> CUDA_ERROR_NO_DEVICE/);
    const off = await helper.getNode('hw2').plan(FAKE);
    assert.equal(off.plan.method, 'software');
    assert.equal(off.note, undefined);
    const policy = helper.getNode('hw2').createFallback(cuda.plan);
    assert.equal(policy.accelerated, false, 'a software plan has nothing to fall back from');
  });

  it('refuses bad values with a clear error, and its streams still run (in software)', async function () {
    await helper.load([poolNode, hwNode], flow({ mode: 'opengl' }));
    const hw = helper.getNode('hw');
    const logged = helper.log().args.filter((a) => a[0].level === helper.log().ERROR && a[0].id === 'hw').map((a) => a[0].msg);
    assert.deepEqual(logged, ['hwaccel-config.errors.mode']);
    const { plan, note } = await hw.plan(FAKE);
    assert.equal(plan.method, 'software');
    assert.equal(note, 'hwaccel-config.errors.mode');
  });

  it('GET probe results for a pool\'s FFmpeg: the table, what auto uses, what the dialog\'s settings use', async function () {
    await helper.load([poolNode, hwNode], flow());
    const res = await helper.request().get(ROUTE).query({ pool: 'pool', mode: 'cuda' }).expect(200);
    assert.equal(res.body.binary.path, FAKE);
    assert.equal(res.body.binary.origin, 'configured');
    const byMethod = Object.fromEntries(res.body.report.entries.map((e) => [e.method, e]));
    assert.equal(byMethod.vaapi.status, 'passed');
    assert.equal(byMethod.cuda.status, 'failed');
    assert.match(byMethod.cuda.reason, /CUDA_ERROR_NO_DEVICE/);
    assert.equal(byMethod.videotoolbox.status, 'absent');
    assert.deepEqual(res.body.auto, { method: 'vaapi', label: 'vaapi' });
    assert.equal(res.body.selected.method, 'software');
    assert.match(res.body.selected.note, /CUDA_ERROR_NO_DEVICE/);
  });

  it('GET answers from the cache; POST probes again', async function () {
    await helper.load([poolNode, hwNode], flow());
    const first = await helper.request().get(ROUTE).query({ pool: 'pool' }).expect(200);
    const cached = await helper.request().get(ROUTE).query({ pool: 'pool' }).expect(200);
    assert.equal(cached.body.report.probedAt, first.body.report.probedAt);
    await new Promise((r) => setTimeout(r, 5));
    const again = await helper.request().post(ROUTE).query({ pool: 'pool' }).expect(200);
    assert.ok(again.body.report.probedAt > first.body.report.probedAt);
  });

  it('never takes a binary from the request: an unknown pool is 404, bad query values are 400', async function () {
    await helper.load([poolNode, hwNode], flow());
    const unknown = await helper.request().get(ROUTE).query({ pool: 'nope' }).expect(404);
    assert.equal(unknown.body.error, 'hwaccel-config.errors.pool');
    await helper.request().get(ROUTE).query({ pool: '/usr/bin/ffmpeg' }).expect(400);
    const mode = await helper.request().get(ROUTE).query({ pool: 'pool', mode: 'opengl' }).expect(400);
    assert.equal(mode.body.error, 'hwaccel-config.errors.mode');
    await helper.request().post(ROUTE).query({ pool: 'pool', mode: 'vaapi', device: '/dev/../etc/passwd' }).expect(400);
  });

  it('without a pool: the default FFmpeg (here Debian\'s, where nothing passes)', async function () {
    if (!findOnPath('ffmpeg')) this.skip();
    await helper.load([poolNode, hwNode], flow());
    const res = await helper.request().get(ROUTE).expect(200);
    assert.equal(res.body.binary.origin, 'path');
    assert.ok(res.body.report.entries.length > 0);
    if (!fs.existsSync('/dev/dri') && !fs.existsSync('/dev/nvidia0')) {
      assert.equal(res.body.auto.method, 'software');
      assert.match(res.body.auto.note, /no hardware decoding method passed/);
    }
  });
});

describe('hwaccel-config admin endpoints behind Node-RED\'s adminAuth (a real node-red process)', function () {
  this.timeout(90000);
  let nr;
  let dir;
  before(async function () {
    dir = tempDir('glimpser-hwauth-');
    // Users by function, so the test needs no bcrypt hashes: "viewer" may read, "admin" may do anything.
    const settings = `adminAuth: {
      type: 'credentials',
      users: function (u) { var p = { viewer: 'read', admin: '*' }[u]; return Promise.resolve(p ? { username: u, permissions: p } : null); },
      authenticate: function (u, pw) { var p = { viewer: 'read', admin: '*' }[u]; return Promise.resolve(p && pw === 'pw-' + u ? { username: u, permissions: p } : null); }
    }`;
    nr = await startNodeRed(flow(), { settings });
  });
  after(async function () {
    await nr?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function token(user) {
    const res = await request(nr.port, 'POST', '/auth/token', { client_id: 'node-red-admin', grant_type: 'password', scope: user === 'admin' ? '*' : 'read', username: user, password: `pw-${user}` });
    assert.equal(res.status, 200, res.body);
    return JSON.parse(res.body).access_token;
  }
  const auth = (t) => ({ Authorization: `Bearer ${t}` });

  it('refuses a request without a token (401)', async function () {
    const res = await request(nr.port, 'GET', `${ROUTE}?pool=pool`);
    assert.equal(res.status, 401);
  });

  it('a read-only user may see the results but not start a probe; an admin may', async function () {
    const viewer = await token('viewer');
    const get = await request(nr.port, 'GET', `${ROUTE}?pool=pool`, undefined, auth(viewer));
    assert.equal(get.status, 200, get.body);
    assert.equal(JSON.parse(get.body).auto.method, 'vaapi');
    const refused = await request(nr.port, 'POST', `${ROUTE}?pool=pool`, undefined, auth(viewer));
    assert.equal(refused.status, 401);
    const admin = await token('admin');
    const post = await request(nr.port, 'POST', `${ROUTE}?pool=pool`, undefined, auth(admin));
    assert.equal(post.status, 200, post.body);
    assert.equal(JSON.parse(post.body).binary.path, FAKE);
  });

  it('the editor gets the dialog, its help, its English text from the locales folder, and its icon', async function () {
    const admin = auth(await token('admin'));
    const html = await request(nr.port, 'GET', '/nodes', undefined, { ...admin, Accept: 'text/html' });
    assert.equal(html.status, 200);
    assert.match(html.body, /data-template-name="glimpser-hwaccel-config"/);
    assert.match(html.body, /data-help-name="glimpser-hwaccel-config"/);
    const messages = await request(nr.port, 'GET', '/nodes/messages?lng=en-US', undefined, admin);
    const catalogs = JSON.parse(messages.body);
    const ours = Object.values(catalogs).find((c) => c && c['hwaccel-config']);
    assert.ok(ours, Object.keys(catalogs).join(', '));
    assert.equal(ours['hwaccel-config'].label.probeAgain, 'Probe again');
    const icon = await request(nr.port, 'GET', '/icons/node-red-contrib-glimpser/glimpser-hwaccel.svg', undefined, admin);
    assert.equal(icon.status, 200);
    assert.match(icon.body, /^<svg /);
  });
});

describe('hwaccel-config editor dialog (a real node-red, Debian\'s Chromium)', function () {
  this.timeout(120000);
  let nr;
  let browser;
  before(async function () {
    // Two pools without a name besides the named one: the dialog's list tells them apart without showing an id.
    nr = await startNodeRed([
      { id: 'tab', type: 'tab', label: 'cams' }, { ...flow()[0], name: 'fake pool' }, flow()[1],
      { id: '209e6ac3fb1fa1b2', type: 'glimpser-process-pool', name: '', ffmpegPath: '', idleGrace: 10 },
      { id: '209e6ac3fb1fa1b3', type: 'glimpser-process-pool', name: '', ffmpegPath: '', idleGrace: 10 },
    ]);
    browser = await launch({ viewport: { width: 1400, height: 900 } });
  });
  after(async function () {
    await browser?.close();
    await nr?.stop();
  });

  it('shows the probe table for the chosen pool\'s FFmpeg, what auto and the settings use, and probes again', async function () {
    const { page, errors: pageErrors } = browser;
    await page.goto(`http://127.0.0.1:${nr.port}/`);
    await page.waitForFunction(() => window.RED && RED.nodes && RED.nodes.node('hw'), null, { timeout: 60000 });
    await page.evaluate(() => RED.editor.editConfig('', 'glimpser-hwaccel-config', 'hw'));
    const results = '#glimpser-hwaccel-results';
    const text = () => page.textContent(results);
    // First the default FFmpeg (Debian's): every row is a failure or absence with its reason.
    await page.waitForSelector(`${results} table`, { timeout: 60000 });
    assert.match(await text(), /These settings use: software/);
    assert.equal(await page.isVisible('#node-config-input-device'), false, 'auto has no device to choose');
    const pools = await page.$$eval('#glimpser-hwaccel-pool option', (os) => os.map((o) => o.textContent));
    assert.deepEqual(pools, ['default FFmpeg (PATH, else bundled)', 'fake pool', 'glimpser pool (1)', 'glimpser pool (2)']);
    const label = await page.evaluate(() => RED.utils.getNodeLabel(RED.nodes.node('hw')));
    assert.equal(label, 'hardware decoding: auto');
    await page.selectOption('#glimpser-hwaccel-pool', 'pool');
    await page.waitForFunction((sel) => /fake-hwaccel-probe/.test(document.querySelector(sel).textContent), results, { timeout: 30000 });
    assert.match(await text(), /auto uses: vaapi/);
    const rows = await page.$$eval(`${results} tr`, (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
    const cuda = rows.find((r) => r[0] === 'cuda');
    assert.deepEqual(cuda.slice(0, 3), ['cuda', 'default', 'failed']);
    assert.match(cuda[5], /CUDA_ERROR_NO_DEVICE/);
    assert.deepEqual(rows.find((r) => r[0] === 'vaapi').slice(2, 5), ['passed', 'passed', 'passed']);
    // The unsaved mode counts: cuda gets software, and the dialog says why.
    await page.selectOption('#node-config-input-mode', 'cuda');
    assert.equal(await page.isVisible('#node-config-input-device'), true);
    const before = await text();
    const posted = page.waitForResponse((r) => r.url().includes('glimpser-hwaccel-config/probe') && r.request().method() === 'POST');
    await page.click('#glimpser-hwaccel-probe');
    assert.equal((await posted).status(), 200);
    await page.waitForFunction((sel) => /These settings use: software/.test(document.querySelector(sel).textContent), results, { timeout: 30000 });
    assert.notEqual(await text(), before);
    assert.match(await text(), /cuda did not pass the probe \(cu->cuInit\(0\) failed -> CUDA_ERROR_NO_DEVICE/);
    assert.deepEqual(pageErrors, []);
  });
});

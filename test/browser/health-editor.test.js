'use strict';
// The stream-health and metrics editors in a real node-red, driven in Debian's Chromium: their validation accepts
// exactly what the runtime accepts (one table of values for both), their texts come from the locales folder, the
// dialog shows the fields of the chosen scope, and the palette shows our labels and icons.
const assert = require('node:assert/strict');
const { startNodeRed, request } = require('../helpers/node-red-process');
const { launch } = require('../helpers/browser');
const { healthSettings, metricsSettings } = require('../../dist/nodes/health-settings');
const { translator } = require('../helpers/i18n');

const INTERVALS = ['', ' ', '0', '0.5', '1', '2.5', '10', '86400', '86401', '-1', 'abc', '1e3', ' 30 '];
const PATHS = ['/glimpser/metrics', 'glimpser/metrics', '/metrics/', '', '/a b', '/x?y', '/é', '/a/../b', '/m', '//double'];

const flows = [
  { id: 'tab', type: 'tab', label: 'cams' },
  { id: 'pool', type: 'glimpser-process-pool', name: 'cams', ffmpegPath: '', idleGrace: 10, backoffBase: 1, backoffCap: 30, stallTimeout: '' },
  // On demand and unwatched: no FFmpeg runs during this test.
  { id: 'src', type: 'glimpser-ffmpeg-source', z: 'tab', name: 'front', pool: 'pool', source: 'testsrc2=size=160x120:rate=5', fps: 5, width: '', quality: 8, startMode: 'demand', loop: true, snapshotTimeout: 10, x: 100, y: 100, wires: [['hWired']] },
  { id: 'hNamed', type: 'glimpser-stream-health', z: 'tab', name: '', scope: 'stream', stream: 'front', pool: '', interval: 10, x: 300, y: 60, wires: [[], []] },
  { id: 'hWired', type: 'glimpser-stream-health', z: 'tab', name: '', scope: 'stream', stream: '', pool: '', interval: 10, x: 300, y: 100, wires: [[], []] },
  { id: 'hNone', type: 'glimpser-stream-health', z: 'tab', name: '', scope: 'stream', stream: '', pool: '', interval: 10, x: 300, y: 140, wires: [[], []] },
  { id: 'hPool', type: 'glimpser-stream-health', z: 'tab', name: '', scope: 'pool', stream: '', pool: 'pool', interval: 0, x: 300, y: 180, wires: [[], []] },
  { id: 'hBad', type: 'glimpser-stream-health', z: 'tab', name: '', scope: 'stream', stream: 'front', pool: '', interval: 'often', x: 300, y: 220, wires: [[], []] },
  { id: 'mOk', type: 'glimpser-metrics', z: 'tab', name: '', path: '/glimpser/metrics', healthPath: '/glimpser/health', processMetrics: true, x: 500, y: 60, wires: [] },
  { id: 'mBad', type: 'glimpser-metrics', z: 'tab', name: '', path: '/a b', healthPath: '/h', processMetrics: true, x: 500, y: 100, wires: [] },
  { id: 'mSame', type: 'glimpser-metrics', z: 'tab', name: '', path: '/same', healthPath: 'same/', processMetrics: true, x: 500, y: 140, wires: [] },
];

describe('stream-health and metrics editors (a real node-red, Debian\'s Chromium)', function () {
  this.timeout(120000);
  let nr;
  let browser;
  let page;

  before(async function () {
    nr = await startNodeRed(flows);
    browser = await launch({ viewport: { width: 1400, height: 900 } });
    page = browser.page;
    await page.goto(`http://127.0.0.1:${nr.port}/`);
    await page.waitForFunction(() => window.RED && RED.nodes && RED.nodes.node('mSame'), null, { timeout: 60000 });
  });
  after(async function () {
    await browser?.close();
    await nr?.stop();
  });

  it('marks invalid exactly the nodes the runtime refuses', async function () {
    const valid = await page.evaluate((ids) => Object.fromEntries(ids.map((id) => [id, RED.nodes.node(id).valid])), flows.slice(3).map((n) => n.id));
    assert.deepEqual(valid, { hNamed: true, hWired: true, hNone: false, hPool: true, hBad: false, mOk: true, mBad: false, mSame: false });
    // The runtime's view of the same nodes (hNone is refused when the node is built: no stream named, none wired).
    for (const n of flows.slice(3).filter((x) => x.type === 'glimpser-metrics')) {
      assert.equal(!('error' in metricsSettings(n)), valid[n.id], n.id);
    }
    for (const n of flows.slice(3).filter((x) => x.type === 'glimpser-stream-health' && x.id !== 'hNone' && x.id !== 'hWired')) {
      assert.equal(!('error' in healthSettings(n)), valid[n.id], n.id);
    }
    assert.match(nr.output(), /stream-health.*No stream to watch/);
  });

  it('one table of values: the editor\'s validators agree with the runtime\'s', async function () {
    const editor = await page.evaluate(
      ({ intervals, paths }) => {
        const health = RED.nodes.getType('glimpser-stream-health').defaults;
        const metrics = RED.nodes.getType('glimpser-metrics').defaults;
        const node = { scope: 'stream', stream: 'front' };
        return {
          interval: intervals.map((v) => health.interval.validate.call(node, v) === true),
          path: paths.map((v) => metrics.path.validate.call({ id: 'mOk', healthPath: '/health-x' }, v) === true),
          healthPath: paths.map((v) => metrics.healthPath.validate.call({ id: 'mOk', path: '/metrics-x' }, v) === true),
        };
      },
      { intervals: INTERVALS, paths: PATHS },
    );
    const runtime = {
      interval: INTERVALS.map((v) => !('error' in healthSettings({ interval: v }))),
      path: PATHS.map((v) => !('error' in metricsSettings({ path: v, healthPath: '/health-x' }))),
      healthPath: PATHS.map((v) => !('error' in metricsSettings({ path: '/metrics-x', healthPath: v }))),
    };
    assert.deepEqual(editor, runtime);
    // The table has both answers in it.
    assert.ok(runtime.interval.includes(true) && runtime.interval.includes(false));
    assert.ok(runtime.path.includes(true) && runtime.path.includes(false));
  });

  it('the dialog shows its English texts and the fields of the chosen scope', async function () {
    await page.evaluate(() => RED.editor.edit(RED.nodes.node('hNamed')));
    await page.waitForSelector('#node-input-scope', { state: 'visible' });
    const options = await page.$$eval('#node-input-scope option', (os) => os.map((o) => [o.value, o.textContent]));
    assert.deepEqual(options, [['stream', 'one stream'], ['pool', 'every stream of a pool']]);
    assert.equal((await page.textContent('label[for="node-input-interval"]')).trim(), 'Figures every');
    assert.equal(await page.isVisible('#node-input-stream'), true);
    assert.equal(await page.isVisible('#glimpser-health-pool-row'), false);
    await page.selectOption('#node-input-scope', 'pool');
    assert.equal(await page.isVisible('#glimpser-health-pool-row'), true);
    assert.equal(await page.isVisible('#glimpser-health-stream-row'), false);
    await page.evaluate(() => RED.tray.close());
    await page.evaluate(() => RED.editor.edit(RED.nodes.node('mOk')));
    await page.waitForSelector('#node-input-healthPath', { state: 'visible' });
    assert.equal((await page.textContent('label[for="node-input-path"]')).trim(), 'Metrics path');
    assert.equal(await page.getAttribute('#node-input-healthPath', 'placeholder'), '/glimpser/health (empty: not served)');
    await page.evaluate(() => RED.tray.close());
  });

  it('palette labels, node labels and our own icons', async function () {
    const labels = await page.evaluate(() => ({
      palette: ['glimpser-stream-health', 'glimpser-metrics'].map((t) => document.querySelector(`.red-ui-palette-node[data-palette-type="${t}"] .red-ui-palette-label`)?.textContent.replace(/\s+/g, ' ').trim()),
      nodes: ['hNamed', 'hPool', 'mOk'].map((id) => RED.utils.getNodeLabel(RED.nodes.node(id))),
    }));
    assert.deepEqual(labels, { palette: ['stream health', 'metrics'], nodes: ['health: front', 'health: every stream', '/glimpser/metrics'] });
    for (const icon of ['glimpser-health.svg', 'glimpser-metrics.svg']) {
      const r = await request(nr.port, 'GET', `/icons/node-red-contrib-glimpser/${icon}`);
      assert.equal(r.status, 200, icon);
      assert.match(r.body, /^<svg /);
    }
    assert.deepEqual(browser.errors, []);
  });
  it('every red field says why, in the runtime\'s words: on the canvas and in the dialog\'s tooltip', async function () {
    const _ = await translator();
    const why = (r) => _(r.error, r.subs);
    const flagged = await page.evaluate((ids) => Object.fromEntries(ids.map((id) => [id, RED.nodes.node(id).validationErrors])), ['hNone', 'hBad', 'mBad', 'mSame']);
    assert.deepEqual(flagged, {
      // Dropped unwired with an empty Stream: the message the runtime logs when it builds the node.
      hNone: [_('stream-health.errors.noStream')],
      hBad: [why(healthSettings({ interval: 'often' }))],
      mBad: [why(metricsSettings({ path: '/a b', healthPath: '/h' }))],
      mSame: [why(metricsSettings({ path: '/same', healthPath: 'same/' }))],
    });
    const tooltipOf = async (selector) => {
      await page.waitForFunction(() => document.querySelectorAll('.red-ui-popover-content').length === 0, null, { timeout: 5000 });
      await page.hover(selector);
      const tip = page.locator('.red-ui-popover-content').last();
      await tip.waitFor({ state: 'visible', timeout: 5000 });
      const text = (await tip.innerText()).trim();
      await page.mouse.move(0, 0);
      return text;
    };
    const retype = async (selector, text) => {
      await page.locator(selector).fill('');
      await page.locator(selector).pressSequentially(text);
    };
    // The previous test's tray may still be closing: an edit asked for meanwhile is dropped.
    await page.waitForFunction(() => $('.red-ui-tray').length === 0);
    await page.evaluate(() => RED.editor.edit(RED.nodes.node('hNamed')));
    await page.waitForSelector('#node-input-interval', { state: 'visible' });
    await page.waitForTimeout(500);
    await retype('#node-input-interval', '-5');
    const intervalTip = await tooltipOf('#node-input-interval');
    await page.evaluate(() => RED.tray.close());
    await page.waitForFunction(() => $('.red-ui-tray').length === 0);
    await page.evaluate(() => RED.editor.edit(RED.nodes.node('mOk')));
    await page.waitForSelector('#node-input-path', { state: 'visible' });
    await page.waitForTimeout(500);
    await retype('#node-input-path', '/my metrics');
    const pathTip = await tooltipOf('#node-input-path');
    await page.evaluate(() => RED.tray.close());
    await page.waitForFunction(() => $('.red-ui-tray').length === 0);
    assert.equal(intervalTip, why(healthSettings({ interval: '-5' })));
    assert.equal(intervalTip, 'Interval must be 0 (off) or 1 to 86400 seconds, got "-5"');
    assert.equal(pathTip, why(metricsSettings({ path: '/my metrics' })));
  });
});

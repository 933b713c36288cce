'use strict';
// The editor as a user meets it: a real node-red process with this package, its editor in Debian's Chromium.
// Palette tiles, each edit dialog in English, validation messages, a duplicate stream path, a new mjpeg out's path
// following its stream, and the editor's validators accepting exactly what the runtime accepts.
// GLIMPSER_SCREENSHOTS=<dir> keeps screenshots of the palette and the dialogs there.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { startNodeRed, request } = require('../helpers/node-red-process');
const { translator } = require('../helpers/i18n');
const { FIELD_RULES } = require('../../dist/nodes/field-rules');
const { readNumber, rangeMessage } = require('../../dist/nodes/config');
const { readPoolConfig } = require('../../dist/nodes/pool-config');
const { parseRegions } = require('../../dist/core/motion/roi');

const TAB = 'tab1';
const FLOW = [
  { id: TAB, type: 'tab', label: 'Cameras' },
  { id: 'pool', type: 'glimpser-process-pool', name: '', ffmpegPath: '', idleGrace: 10, backoffBase: 1, backoffCap: 30, stallTimeout: '' },
  // On demand with nobody watching and no motion node: no FFmpeg runs during the test.
  { id: 'cam', type: 'glimpser-ffmpeg-source', z: TAB, name: 'front', pool: 'pool', source: 'testsrc2=size=160x120:rate=2', mode: 'auto', fps: 2, width: '', quality: 5, lowFps: 1, startMode: 'demand', loop: true, snapshotTimeout: 10, detectSource: '', hwaccel: '', x: 120, y: 80, wires: [['outA', 'outB']] },
  { id: 'outA', type: 'glimpser-mjpeg-out', z: TAB, name: 'front stream', stream: '', path: '/glimpser/front.mjpg', stillPath: '/glimpser/front.jpg', maxViewers: 100, maxPerAddress: 10, maxMegapixels: '', stallTimeout: 5, stillTimeout: 10, x: 360, y: 60, wires: [] },
  { id: 'outB', type: 'glimpser-mjpeg-out', z: TAB, name: '', stream: '', path: '/glimpser/front.mjpg', stillPath: '', maxViewers: 100, maxPerAddress: 10, maxMegapixels: '', stallTimeout: 5, stillTimeout: 10, x: 360, y: 120, wires: [] },
  { id: 'motion', type: 'glimpser-motion-detect', z: TAB, name: '', stream: 'front', analysisWidth: 240, analysisHeight: 180, pixelThreshold: 0.08, minArea: 80, noiseFactor: 3, startFrames: 3, quietSeconds: 5, cooldownSeconds: 1, staleSeconds: 10, regions: '', topicPrefix: 'glimpser', discovery: true, cameraEntity: true, discoveryPrefix: 'homeassistant', haStatusTopic: 'homeassistant/status', discoveryDelay: 2, sensorName: 'Motion', attachImage: false, x: 360, y: 200, wires: [[]] },
];
const OURS = ['glimpser-ffmpeg-source', 'glimpser-mjpeg-out', 'glimpser-motion-detect'];
const KEY_RE = /\b(?:process-pool|ffmpeg-source|mjpeg-out|motion-detect)\.[a-zA-Z]+\.[a-zA-Z]/;

describe('editor (real node-red, Debian Chromium)', function () {
  this.timeout(120000);
  let nr;
  let browser;
  let page;
  let userDataDir;
  let _;
  const shots = process.env.GLIMPSER_SCREENSHOTS;

  before(async function () {
    _ = await translator();
    nr = await startNodeRed(FLOW);
    const { chromium } = require('playwright-core');
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpser-editor-'));
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim(),
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      // Tall enough for the longest dialog without scrolling.
      viewport: { width: 1400, height: 1500 },
    });
    page = await browser.newPage();
    const problems = [];
    page.on('pageerror', (err) => problems.push(err.message));
    await page.goto(`http://127.0.0.1:${nr.port}/`);
    await page.waitForFunction(() => window.RED && RED.nodes && RED.nodes.node('outB') && $('.red-ui-palette-node[data-palette-type="glimpser-mjpeg-out"]').length === 1, null, { timeout: 60000 });
    assert.deepEqual(problems, [], 'no script errors while the editor loads');
    if (shots) fs.mkdirSync(shots, { recursive: true });
  });

  after(async function () {
    if (browser) await browser.close();
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
    if (nr) {
      nr.child.kill('SIGTERM');
      await nr.exited;
      nr.cleanup();
    }
  });

  async function openDialog(id) {
    await page.evaluate((nodeId) => {
      const n = RED.nodes.node(nodeId);
      if (n._def.category === 'config') RED.editor.editConfig('', n.type, n.id);
      else RED.editor.edit(n);
    }, id);
    await page.waitForSelector('.red-ui-tray .red-ui-tray-body form.dialog-form, .red-ui-tray .red-ui-tray-body .form-row', { state: 'visible' });
    // The tray slides in; its inputs have their final width once it has.
    await page.waitForTimeout(500);
  }

  async function closeDialog() {
    // A failed test may leave trays stacked: close each.
    while (await page.evaluate(() => $('.red-ui-tray').length) > 0) {
      const open = await page.evaluate(() => {
        RED.tray.close();
        return $('.red-ui-tray').length;
      });
      await page.waitForFunction((n) => $('.red-ui-tray').length < n, open);
    }
  }

  afterEach(async function () {
    if (page) await closeDialog();
  });

  /** Types into a field as a user does (key events: Node-RED validates on keyup). */
  async function type(selector, text) {
    const field = page.locator(selector);
    await field.fill('');
    if (text) await field.pressSequentially(text);
    else await field.press('Backspace');
  }

  /** What the tooltip over an input says, as a user hovering it reads it. */
  async function tooltipOf(selector) {
    // The previous field's tooltip fades out before it is removed: read only once it has gone, or .last() could be it.
    await page.waitForFunction(() => document.querySelectorAll('.red-ui-popover-content').length === 0, null, { timeout: 5000 });
    await page.hover(selector);
    const tip = page.locator('.red-ui-popover-content').last();
    await tip.waitFor({ state: 'visible', timeout: 5000 });
    const text = await tip.innerText();
    await page.mouse.move(0, 0);
    return text.trim();
  }

  it('palette: our icons, short labels on one line each, in a glimpser category', async function () {
    const tiles = await page.evaluate((types) => {
      const one = (sel) => {
        const el = $(sel);
        return { label: el.attr('data-palette-label'), lines: el.find('.red-ui-palette-label br').length + 1, height: el.outerHeight(), icon: el.find('.red-ui-palette-icon').css('background-image') };
      };
      return { ours: types.map((t) => one(`.red-ui-palette-node[data-palette-type="${t}"]`)), inject: one('.red-ui-palette-node[data-palette-type="inject"]') };
    }, OURS);
    assert.deepEqual(tiles.ours.map((t) => t.label), ['camera', 'mjpeg out', 'motion']);
    for (const [i, t] of tiles.ours.entries()) {
      assert.equal(t.lines, 1, `${t.label}: one line`);
      assert.equal(t.height, tiles.inject.height, `${t.label}: as tall as the inject tile`);
      assert.match(t.icon, [/glimpser-camera\.svg/, /glimpser-stream\.svg/, /glimpser-motion\.svg/][i]);
    }
    for (const icon of ['glimpser-pool.svg', 'glimpser-camera.svg', 'glimpser-stream.svg', 'glimpser-motion.svg']) {
      const r = await request(nr.port, 'GET', `/icons/node-red-contrib-glimpser/${icon}`);
      assert.equal(r.status, 200, icon);
      assert.match(r.headers['content-type'], /svg/);
    }
    if (shots) {
      await page.evaluate(() => $('.red-ui-palette-node[data-palette-type="glimpser-mjpeg-out"]')[0].scrollIntoView());
      await page.locator('.red-ui-palette-node[data-palette-type="glimpser-mjpeg-out"]').locator('xpath=ancestor::div[contains(@class,"red-ui-palette-category")]').screenshot({ path: path.join(shots, 'palette.png') });
    }
  });

  it('labels: the config node by name or "glimpser pool", flow nodes by stream and path', async function () {
    const labels = await page.evaluate(() =>
      ['pool', 'cam', 'outA', 'outB', 'motion'].map((id) => RED.utils.getNodeLabel(RED.nodes.node(id))),
    );
    assert.deepEqual(labels, ['glimpser pool', 'front', 'front stream', '/glimpser/front.mjpg', 'front motion']);
  });

  for (const [id, title] of [['pool', 'glimpser pool'], ['cam', 'camera'], ['outA', 'mjpeg out'], ['motion', 'motion']]) {
    it(`the ${title} dialog is in English: labels, placeholders, options, hints and its title`, async function () {
      await openDialog(id);
      const seen = await page.evaluate(() => {
        const body = $('.red-ui-tray-body');
        const texts = body.find('label, span, option, .form-tips, div[data-i18n]').map((i, el) => $(el).text()).get();
        const empty = body.find('[data-i18n]').filter((i, el) => !/^\[/.test($(el).attr('data-i18n')) && $(el).text().trim() === '').map((i, el) => $(el).attr('data-i18n')).get();
        // A placeholder wider than its input is cut off: measured with the input's own font.
        const canvas = document.createElement('canvas').getContext('2d');
        const cut = [];
        const placeholders = [];
        body.find('input[placeholder], textarea[placeholder]').filter(':visible').each((i, el) => {
          const style = getComputedStyle(el);
          canvas.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
          const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
          placeholders.push(el.placeholder);
          if (el.tagName === 'INPUT' && canvas.measureText(el.placeholder).width > room) cut.push(`${el.id}: "${el.placeholder}"`);
        });
        // A label that wraps pushes its row out of line with the others.
        const wrapped = body.find('.form-row > label:first-child').filter(':visible').filter((i, el) => el.getClientRects().length > 0 && $(el).text().trim() !== '' && el.offsetHeight > 1.6 * parseFloat(getComputedStyle(el).lineHeight)).map((i, el) => $(el).text().trim()).get();
        return { texts, empty, cut, wrapped, placeholders, title: $('.red-ui-tray-titlebar').first().text() };
      });
      if (shots) await page.locator('.red-ui-tray').screenshot({ path: path.join(shots, `dialog-${id}.png`) });
      await closeDialog();
      assert.equal(seen.title.trim(), `Edit ${title} node`);
      assert.deepEqual(seen.empty, [], 'every data-i18n key has a text');
      for (const t of [...seen.texts, ...seen.placeholders]) assert.doesNotMatch(t, KEY_RE, `an i18n key shown as text: ${t}`);
      assert.deepEqual(seen.cut, [], 'placeholders fit their inputs');
      assert.deepEqual(seen.wrapped, [], 'labels fit on one line');
    });
  }

  it('an invalid value gets a red border and a tooltip saying what is wrong, in the runtime\'s words', async function () {
    await openDialog('cam');
    await type('#node-input-width', '-5');
    await type('#node-input-quality', '99');
    assert.equal(await page.evaluate(() => $('#node-input-width').hasClass('input-error')), true);
    const widthTip = await tooltipOf('#node-input-width');
    const qualityTip = await tooltipOf('#node-input-quality');
    await type('#node-input-width', '');
    assert.equal(await page.evaluate(() => $('#node-input-width').hasClass('input-error')), false, 'empty: as the source');
    await closeDialog();
    const rules = FIELD_RULES['glimpser-ffmpeg-source'];
    assert.equal(widthTip, rangeMessage(_, 'ffmpeg-source', { field: 'width', value: '-5', rule: rules.width }));
    assert.equal(qualityTip, 'JPEG quality must be a whole number from 2 to 31, got "99"');

    await openDialog('outA');
    await type('#node-input-maxViewers', '0');
    await type('#node-input-stallTimeout', '-1');
    const viewersTip = await tooltipOf('#node-input-maxViewers');
    const stallTip = await tooltipOf('#node-input-stallTimeout');
    await closeDialog();
    assert.equal(viewersTip, 'Max viewers must be a whole number from 1 to 10000, got "0"');
    assert.equal(stallTip, 'Stall timeout (s) must be a number from 1 to 3600, got "-1"');

    await openDialog('pool');
    await type('#node-config-input-backoffBase', '20');
    await type('#node-config-input-backoffCap', '10');
    const capTip = await tooltipOf('#node-config-input-backoffCap');
    await closeDialog();
    assert.equal(capTip, 'Longest restart delay (10 s) must be at least the restart delay (20 s)');
  });

  it('an invalid regions field says why, under the field and in its tooltip', async function () {
    await openDialog('motion');
    await type('#node-input-regions', '[{"name":"door","points":[[0.1,0.2],[1.5,0.2],[0.4,0.9]]}]');
    const under = (await page.locator('#glimpser-motion-regions-error').innerText()).trim();
    const tip = await tooltipOf('#node-input-regions');
    await type('#node-input-regions', '');
    const cleared = (await page.locator('#glimpser-motion-regions-error').innerText()).trim();
    await closeDialog();
    const expected = 'region "door": point 1 [1.5, 0.2] is out of range (coordinates are fractions 0..1 of the frame)';
    assert.equal(under, expected);
    assert.equal(tip, expected);
    assert.equal(cleared, '');
  });

  it('flags a stream path another mjpeg out serves, on the canvas and in the dialog', async function () {
    const flagged = await page.evaluate(() => {
      const b = RED.nodes.node('outB');
      return { valid: b.valid, errors: b.validationErrors };
    });
    assert.equal(flagged.valid, false);
    const message = '/glimpser/front.mjpg is also served by "front stream": each path can have one node';
    assert.deepEqual(flagged.errors, [message]);
    await openDialog('outB');
    const tip = await tooltipOf('#node-input-path');
    // A path of its own clears it.
    await type('#node-input-path', '/glimpser/front-small.mjpg');
    const cleared = await page.evaluate(() => $('#node-input-path').hasClass('input-error'));
    await closeDialog();
    assert.equal(tip, message);
    assert.equal(cleared, false);
  });

  it('a new mjpeg out from the palette gets a free path, which follows the stream typed in its dialog', async function () {
    const before = await page.evaluate(() => RED.nodes.filterNodes({ type: 'glimpser-mjpeg-out' }).map((n) => n.id));
    const chart = await page.locator('#red-ui-workspace-chart').boundingBox();
    await page.dragAndDrop('.red-ui-palette-node[data-palette-type="glimpser-mjpeg-out"]', '#red-ui-workspace-chart', {
      targetPosition: { x: Math.min(600, chart.width - 100), y: 400 },
    });
    const added = await page.waitForFunction((ids) => RED.nodes.filterNodes({ type: 'glimpser-mjpeg-out' }).find((n) => !ids.includes(n.id)), before);
    const node = await added.evaluate((n) => ({ id: n.id, path: n.path, stillPath: n.stillPath, valid: n.valid }));
    assert.deepEqual({ path: node.path, stillPath: node.stillPath }, { path: '/glimpser/camera.mjpg', stillPath: '/glimpser/camera.jpg' });
    await openDialog(node.id);
    await type('#node-input-stream', 'Back Yard');
    const followed = await page.evaluate(() => ({ path: $('#node-input-path').val(), still: $('#node-input-stillPath').val() }));
    // The camera "front" is served already: a second node for it gets a path of its own.
    await type('#node-input-stream', 'front');
    const second = await page.evaluate(() => $('#node-input-path').val());
    // A path typed by hand stays.
    await type('#node-input-path', '/cams/mine.mjpg');
    await type('#node-input-stream', 'porch');
    const kept = await page.evaluate(() => $('#node-input-path').val());
    await closeDialog();
    assert.deepEqual(followed, { path: '/glimpser/back-yard.mjpg', still: '/glimpser/back-yard.jpg' });
    assert.equal(second, '/glimpser/front-2.mjpg');
    assert.equal(kept, '/cams/mine.mjpg');
  });

  it('each numeric field accepts in the editor exactly what the runtime accepts', async function () {
    const samples = (rule) => [
      '', ' ', rule.min, rule.max, String(rule.min), String(rule.max), rule.min - 0.001, rule.max + 0.001, rule.min - 1, rule.max + 1,
      (rule.min + rule.max) / 2, Math.floor((rule.min + rule.max) / 2) + 0.5, 0, -1, '0', '1e3', ' 7 ', 'abc', '5px', 'NaN', 'Infinity', '0x10', true,
    ];
    const cases = [];
    for (const [type, rules] of Object.entries(FIELD_RULES)) {
      for (const [field, rule] of Object.entries(rules)) for (const value of samples(rule)) cases.push({ type, field, value });
    }
    const verdicts = await page.evaluate((list) => {
      const nodes = { 'glimpser-process-pool': 'pool', 'glimpser-ffmpeg-source': 'cam', 'glimpser-mjpeg-out': 'outA', 'glimpser-motion-detect': 'motion' };
      return list.map(({ type, field, value }) => {
        const node = RED.nodes.node(nodes[type]);
        const r = RED.nodes.getType(type).defaults[field].validate.call(node, value, {});
        return r === true ? true : String(r);
      });
    }, cases);
    const mismatches = [];
    cases.forEach((c, i) => {
      const runtime = readNumber(c.value, FIELD_RULES[c.type][c.field]);
      // The pool's longest delay must also be at least its first (1 s in this flow): the pool's own reading says.
      const runtimeOk = c.field === 'backoffCap' ? readPoolConfig({ backoffBase: 1, backoffCap: c.value }, _).problems.length === 0 : runtime !== undefined;
      if ((verdicts[i] === true) !== runtimeOk) mismatches.push(`${c.type} ${c.field} ${JSON.stringify(c.value)}: editor ${verdicts[i]}, runtime ${runtime}`);
      if (verdicts[i] !== true) assert.doesNotMatch(verdicts[i], KEY_RE, verdicts[i]);
    });
    assert.deepEqual(mismatches, []);
    assert.ok(cases.length > 500, `${cases.length} cases`);
  });

  it('the regions validator gives the runtime\'s own message for each kind of mistake', async function () {
    const bad = [
      '{"name":"x"}',
      '[1]',
      '[{"name":"a","points":[[0,0],[1,0],[1,1]]},{"name":"a","points":[[0,0],[1,0],[1,1]]}]',
      '[{"type":"around","points":[[0,0],[1,0],[1,1]]}]',
      '[{"name":"two","points":[[0,0],[1,1]]}]',
      '[{"name":"none"}]',
      '[{"name":"str","points":[["0",0],[1,0],[1,1]]}]',
      '[{"name":"far","points":[[0,0],[2,0],[1,1]]}]',
      '[{"name":"obj","points":[{"x":0,"y":0},{"x":1,"y":-0.5},{"x":1,"y":1}]}]',
      '[{"name":"small","minArea":0,"points":[[0,0],[1,0],[1,1]]}]',
      JSON.stringify(Array.from({ length: 32 }, (_u, i) => ({ name: `r${i}`, points: [[0, 0], [1, 0], [1, 1]] }))),
    ];
    const editor = await page.evaluate((list) => list.map((v) => RED.nodes.getType('glimpser-motion-detect').defaults.regions.validate.call(RED.nodes.node('motion'), v, {})), bad);
    bad.forEach((text, i) => {
      assert.throws(() => parseRegions(text), (err) => {
        assert.equal(editor[i], err.message, text);
        return true;
      });
    });
    const good = await page.evaluate(() =>
      ['', '[]', '[{"points":[[0,0],[1,0],[1,1]]},{"type":"exclude","points":[{"x":0,"y":0},{"x":0.5,"y":0},{"x":0,"y":0.5}],"minArea":3}]'].map((v) =>
        RED.nodes.getType('glimpser-motion-detect').defaults.regions.validate.call(RED.nodes.node('motion'), v, {}),
      ),
    );
    assert.deepEqual(good, [true, true, true]);
  });

  it('help: each node\'s help comes from its locale file, with the stream explained', async function () {
    const helps = await page.evaluate(async () => {
      const out = {};
      for (const t of ['glimpser-process-pool', 'glimpser-ffmpeg-source', 'glimpser-mjpeg-out', 'glimpser-motion-detect']) {
        out[t] = $(`script[data-help-name="${t}"]`).text() || (RED.nodes.getNodeHelp ? RED.nodes.getNodeHelp(t) : '');
      }
      return out;
    });
    for (const [t, text] of Object.entries(helps)) assert.ok(text.length > 500, `${t}: help found`);
    assert.match(helps['glimpser-ffmpeg-source'], /glimpser\/&lt;stream&gt;\/motion/);
    assert.match(helps['glimpser-ffmpeg-source'], /\/glimpser\/&lt;stream&gt;\.mjpg/);
    assert.match(helps['glimpser-motion-detect'], /Birth message: topic <code>glimpser\/status<\/code>/);
  });
});

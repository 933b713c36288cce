'use strict';
// The editor as a user meets it: a real node-red process with this package, its editor in Debian's Chromium.
// Palette tiles, each edit dialog in English, validation messages, a duplicate stream path, a new mjpeg out's path
// following its stream, and the editor's validators accepting exactly what the runtime accepts.
// GLIMPSER_SCREENSHOTS=<dir> keeps screenshots of the palette and the dialogs there.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startNodeRed, request } = require('../helpers/node-red-process');
const { launch } = require('../helpers/browser');
const { translator } = require('../helpers/i18n');
const { FIELD_RULES } = require('../../dist/nodes/field-rules');
const { readNumber, rangeMessage } = require('../../dist/nodes/config');
const { readPoolConfig } = require('../../dist/nodes/pool-config');
const { parseRegions } = require('../../dist/core/motion/roi');
const { streamNameOf } = require('../../dist/nodes/stream-ref');
const pkg = require('../../package.json');

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
/** Every node type with an editor file: the palette's five and the two config nodes. */
const ALL_TYPES = Object.keys(pkg['node-red'].nodes).filter((t) => t !== 'glimpser-viewer-page');
/** Names of our nodes that are not the palette's: none of these may reach a text a user reads. */
const OTHER_NAMES = /(?<![\w-])(?:ffmpeg[- ]source|mjpeg-out|motion-detect|process[- ]pool|hwaccel-config|stream-health)(?![\w-])/i;

/** GitHub's (and npm's) anchor for a README heading. */
function anchorOf(heading) {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}
const README_ANCHORS = new Set(
  fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8').split('\n').filter((l) => /^#{1,4} /.test(l)).map((l) => anchorOf(l.replace(/^#+ /, ''))),
);
const PACKAGE_PAGE = `https://www.npmjs.com/package/${pkg.name}`;
const KEY_RE = /\b(?:process-pool|ffmpeg-source|mjpeg-out|motion-detect)\.[a-zA-Z]+\.[a-zA-Z]/;

describe('editor (real node-red, Debian Chromium)', function () {
  this.timeout(120000);
  let nr;
  let browser;
  let page;
  let _;
  const shots = process.env.GLIMPSER_SCREENSHOTS;

  before(async function () {
    _ = await translator();
    nr = await startNodeRed(FLOW);
    // Tall enough for the longest dialog without scrolling.
    browser = await launch({ viewport: { width: 1400, height: 1500 } });
    page = browser.page;
    await page.goto(`http://127.0.0.1:${nr.port}/`);
    await page.waitForFunction(() => window.RED && RED.nodes && RED.nodes.node('outB') && $('.red-ui-palette-node[data-palette-type="glimpser-mjpeg-out"]').length === 1, null, { timeout: 60000 });
    assert.deepEqual(browser.errors, [], 'no script errors while the editor loads');
    if (shots) fs.mkdirSync(shots, { recursive: true });
  });

  after(async function () {
    if (browser) await browser.close();
    await nr?.stop();
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
  it('a camera from the palette is "camera 1", the next "camera 2"; a wired mjpeg out and motion follow; a URL names it after its host and path', async function () {
    const drop = async (type, y) => {
      const before = await page.evaluate((t) => RED.nodes.filterNodes({ type: t }).map((n) => n.id), type);
      const chart = await page.locator('#red-ui-workspace-chart').boundingBox();
      await page.dragAndDrop(`.red-ui-palette-node[data-palette-type="${type}"]`, '#red-ui-workspace-chart', { targetPosition: { x: Math.min(500, chart.width - 100), y } });
      const added = await page.waitForFunction(({ t, ids }) => RED.nodes.filterNodes({ type: t }).find((n) => !ids.includes(n.id)), { t: type, ids: before });
      return added.evaluate((n) => n.id);
    };
    const first = await drop('glimpser-ffmpeg-source', 300);
    const second = await drop('glimpser-ffmpeg-source', 360);
    const out = await drop('glimpser-mjpeg-out', 300);
    const motion = await drop('glimpser-motion-detect', 420);
    // Wired as a user wires them: a link from the camera's output.
    await page.evaluate(({ cam, targets }) => {
      for (const t of targets) RED.nodes.addLink({ source: RED.nodes.node(cam), sourcePort: 0, target: RED.nodes.node(t) });
      RED.view.redraw(true);
    }, { cam: first, targets: [out, motion] });
    const labels = await page.evaluate((ids) => ids.map((id) => RED.utils.getNodeLabel(RED.nodes.node(id))), [first, second, motion]);
    assert.deepEqual(labels, ['camera 1', 'camera 2', 'camera 1 motion']);
    await openDialog(out);
    const proposed = await page.evaluate(() => ({ path: $('#node-input-path').val(), still: $('#node-input-stillPath').val() }));
    await closeDialog();
    assert.deepEqual(proposed, { path: '/glimpser/camera-1.mjpg', still: '/glimpser/camera-1.jpg' });

    await openDialog(second);
    await type('#node-input-source', 'rtsp://admin:secret@front-door.local:554/Streaming/Channels/101?token=abc');
    const followed = await page.evaluate(() => $('#node-input-name').val());
    // A name typed by hand stays when the source changes.
    await type('#node-input-name', 'porch');
    await type('#node-input-source', 'rtsp://garden.local/live');
    const kept = await page.evaluate(() => $('#node-input-name').val());
    await closeDialog();
    assert.equal(followed, 'front-door.local-Streaming-Channels-101', 'host and path, never the password, port or query');
    assert.equal(kept, 'porch');
    await page.evaluate((ids) => ids.forEach((id) => RED.nodes.remove(id)), [first, second, out, motion]);
    await page.evaluate(() => RED.view.redraw(true));
  });

  it('a camera with no name is called what the runtime calls its stream, never after a filter option or a secret', async function () {
    const sources = [
      'testsrc2=size=1280x720:rate=10', 'testsrc:color=c=red:s=320x240', 'smptehdbars', 'rtsp://cam.local:554/stream1',
      'rtsp://user:p%40ss@192.168.1.20/Streaming/Channels/101?token=abc#x', 'http://esp32cam:81/stream', 'http://192.168.1.5/axis-cgi/mjpg/video.cgi?resolution=640x480',
      'https://[fe80::1]:8443/live.mjpg', 'http://cam.local', '/media/cameras/garage.mp4', 'file:///media/front%20door.mkv', '/dev/video0', 'clip', 'C:\\videos\\yard.mp4', '',
    ];
    const editor = await page.evaluate((list) => list.map((source) => glimpserNames.streamName({ name: '', source })), sources);
    const runtime = sources.map((source) => streamNameOf({ id: 'n1', type: 'glimpser-ffmpeg-source', name: '', source }));
    assert.deepEqual(editor, runtime.map((n) => (n === 'n1' ? '' : n)));
    assert.deepEqual(runtime.slice(0, 5), ['testsrc2', 'color', 'smptehdbars', 'cam.local-stream1', '192.168.1.20-Streaming-Channels-101']);
    for (const n of runtime) assert.doesNotMatch(n, /=|secret|p@ss|token/);
  });

  it('a second camera that defines the same stream with other settings is marked, and says why', async function () {
    const added = await page.evaluate(() => {
      const def = { type: 'glimpser-ffmpeg-source', z: 'tab1', name: 'front', pool: 'pool', source: 'rtsp://other.local/live', mode: 'auto', fps: 2, width: '', quality: 5, lowFps: 1, startMode: 'demand', loop: true, snapshotTimeout: 10, detectSource: '', hwaccel: '', x: 120, y: 500, wires: [[]] };
      const n = RED.nodes.import([{ ...def, id: 'camClash' }]);
      RED.editor.validateNode(RED.nodes.node('camClash'));
      const c = RED.nodes.node('camClash');
      return { valid: c.valid, errors: c.validationErrors, count: n.length };
    });
    await page.evaluate(() => RED.nodes.remove('camClash'));
    assert.equal(added.valid, false);
    assert.deepEqual(added.errors, ['Stream "front" is also defined by the camera "front" with other settings: give this camera a Stream name of its own']);
  });

  it('our own node colour, the same on every node of ours and on no core node', async function () {
    const colours = await page.evaluate((types) => {
      const ours = types.map((t) => RED.nodes.getType(t).color).filter(Boolean);
      const core = RED.nodes.registry.getNodeTypes().filter((t) => !t.startsWith('glimpser-')).map((t) => RED.nodes.getType(t)?.color).filter(Boolean);
      return { ours, core };
    }, ALL_TYPES);
    assert.equal(colours.ours.length, 5, 'the five palette nodes have a colour');
    assert.equal(new Set(colours.ours.map((c) => c.toLowerCase())).size, 1, `one colour: ${colours.ours}`);
    assert.ok(colours.core.length > 10, 'core node colours found');
    assert.ok(!colours.core.map((c) => c.toLowerCase()).includes(colours.ours[0].toLowerCase()), `${colours.ours[0]} is a core node's colour`);
  });

  it('help in Node-RED\'s format (summary, Inputs, Outputs, Details, References) with no line cut at the sidebar\'s default width', async function () {
    const problems = [];
    for (const t of ALL_TYPES) {
      const help = await page.evaluate(async (type) => {
        RED.sidebar.help.show(type);
        await new Promise((r) => setTimeout(r, 300));
        const box = $('.red-ui-help:visible').last();
        const right = box[0].getBoundingClientRect().right;
        const def = RED.nodes.getType(type);
        const cut = [];
        box.find('dt, code, pre, p, li, dd, a').each((i, el) => {
          const r = el.getBoundingClientRect();
          const scrolls = el.tagName === 'PRE' || getComputedStyle(el).whiteSpace === 'nowrap' ? el.scrollWidth > el.clientWidth + 1 : false;
          if (r.width > 0 && (r.right > right + 1 || scrolls)) cut.push(`${el.tagName} "${el.textContent.trim().slice(0, 50)}"`);
        });
        return {
          width: box.width(),
          first: box.find('h3').first().parent().children().first().prop('tagName'),
          headings: box.find('h3').map((i, el) => el.textContent.trim()).get(),
          links: box.find('h3:contains(References) + ul a').map((i, el) => el.href).get(),
          text: box.text(),
          cut,
          inputs: def.inputs || 0,
          outputs: def.outputs || 0,
        };
      }, t);
      const expected = [help.inputs ? 'Inputs' : null, help.outputs ? 'Outputs' : null, 'Details', 'References'].filter(Boolean);
      if (help.first !== 'P') problems.push(`${t}: starts with ${help.first}, not a summary paragraph`);
      if (JSON.stringify(help.headings) !== JSON.stringify(expected)) problems.push(`${t}: headings ${help.headings.join(', ')}`);
      for (const c of help.cut) problems.push(`${t}: cut at ${help.width} px: ${c}`);
      const readme = help.links.filter((l) => l.startsWith(`${PACKAGE_PAGE}#`));
      if (readme.length === 0) problems.push(`${t}: no README section in References`);
      for (const l of readme) if (!README_ANCHORS.has(l.split('#')[1])) problems.push(`${t}: ${l} names no README heading`);
      const tracker = pkg.bugs?.url ?? PACKAGE_PAGE;
      if (!help.links.includes(tracker)) problems.push(`${t}: no link to the issue tracker (${tracker})`);
      if (OTHER_NAMES.test(help.text)) problems.push(`${t}: "${OTHER_NAMES.exec(help.text)[0]}" in its help (the palette calls it otherwise)`);
    }
    assert.deepEqual(problems, []);
  });

  it('one vocabulary: every message, label and hint says camera, mjpeg out, motion, glimpser pool…, as the palette does', async function () {
    const texts = [];
    const walk = (v, where) => {
      if (typeof v === 'string') texts.push([where, v]);
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, `${where}.${k}`);
    };
    const dir = path.join(__dirname, '..', '..', 'nodes', 'locales', 'en-US');
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.json'))) walk(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')), f);
    assert.ok(texts.length > 300, `${texts.length} texts`);
    assert.deepEqual(texts.filter(([, v]) => OTHER_NAMES.test(v)).map(([w, v]) => `${w}: ${v}`), []);
  });
  it('the examples as imported: the broker dialog shows core-mosquitto and 1883, never a raw variable, and its description says what to change', async function () {
    const dir = path.join(__dirname, '..', '..', 'examples');
    const flows = fs.readdirSync(dir).map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
    // Every example, as Import ▸ Examples brings them in: each MQTT one brings the same broker node, which Node-RED has once.
    const failed = await page.evaluate((list) => {
      const errors = [];
      for (const flow of list) {
        const fresh = flow.filter((n) => !RED.nodes.node(n.id) && !RED.nodes.workspace(n.id));
        try {
          RED.view.importNodes(fresh, { generateIds: false, addFlow: false });
        } catch (err) {
          errors.push(err.message);
        }
      }
      return errors;
    }, flows);
    assert.deepEqual(failed, []);
    const brokers = await page.evaluate(() => {
      const list = [];
      RED.nodes.eachConfig((c) => {
        if (c.type === 'mqtt-broker') list.push(c.id);
      });
      return list;
    });
    assert.deepEqual(brokers, ['glimpser-ha-broker']);
    const invalid = await page.evaluate(
      (ids) => ids.filter((id) => RED.nodes.node(id) && RED.nodes.node(id).valid === false).map((id) => [id, RED.nodes.node(id).validationErrors]),
      flows.flat().map((n) => n.id),
    );
    // Valid, but for the second metrics node (the demo and the health example each bring one, and one serves every
    // camera): it says so, as the runtime would refuse it.
    const why = (p) => `${p} is also served by "demo metrics": one metrics node serves every camera, so one is enough (delete this one, or give it other paths)`;
    assert.deepEqual(invalid, [['9e417a0c0000000a', [why('/glimpser/metrics'), why('/glimpser/health')]]]);
    await openDialog('glimpser-ha-broker');
    const dialog = await page.evaluate(() => ({
      name: $('#node-config-input-name').val(),
      server: $('#node-config-input-broker').val(),
      port: $('#node-config-input-port').val(),
      raw: $('.red-ui-tray input').filter((i, el) => /\$\{/.test(el.value)).map((i, el) => el.id).get(),
      tabs: $('.red-ui-tray .red-ui-tab').map((i, el) => $(el).text().trim()).get(),
      info: RED.nodes.node('glimpser-ha-broker').info,
    }));
    await closeDialog();
    assert.deepEqual({ name: dialog.name, server: dialog.server, port: dialog.port, raw: dialog.raw }, { name: 'Home Assistant broker', server: 'core-mosquitto', port: '1883', raw: [] });
    assert.ok(dialog.tabs.includes('Description'), `tabs: ${dialog.tabs}`);
    assert.match(dialog.info, /enter an MQTT user and password/);
  });
});

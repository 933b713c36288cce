'use strict';
// The mjpeg out dialog in a real editor (a real node-red process with this package, Debian's Chromium): with its Stream
// field empty it says which camera it will serve, found upstream through change/function/link nodes as the runtime
// finds it, or that the field must be set; Per address is empty (no limit) on a new node and valid so.
const assert = require('node:assert/strict');
const { startNodeRed } = require('../helpers/node-red-process');
const { launch } = require('../helpers/browser');

const TAB = 'tab1';
const at = (x, y) => ({ z: TAB, x, y });
const cam = (id, name, wires, y) => ({ id, type: 'glimpser-ffmpeg-source', ...at(100, y), name, pool: '', source: 'testsrc2=size=160x120:rate=2', fps: 2, startMode: 'demand', wires: [wires] });
const out = (id, y, props = {}) => ({ id, type: 'glimpser-mjpeg-out', ...at(600, y), name: '', stream: '', path: `/glimpser/${id}.mjpg`, stillPath: '', maxViewers: 100, maxPerAddress: '', stallTimeout: 5, stillTimeout: 10, wires: [], ...props });
// On demand, with no viewer: no FFmpeg runs during the test.
const FLOW = [
  { id: TAB, type: 'tab', label: 'Cameras' },
  cam('front', 'front', ['chg'], 60),
  { id: 'chg', type: 'change', ...at(250, 60), rules: [{ t: 'set', p: 'topic', pt: 'msg', to: 'x', tot: 'str' }], wires: [['fn']] },
  { id: 'fn', type: 'function', ...at(400, 60), func: 'return msg;', outputs: 1, wires: [['viaNodes']] },
  out('viaNodes', 60),
  cam('porch', 'porch', ['lo'], 160),
  { id: 'lo', type: 'link out', ...at(250, 160), mode: 'link', links: ['li'], wires: [] },
  { id: 'li', type: 'link in', ...at(400, 160), links: ['lo'], wires: [['viaLink']] },
  out('viaLink', 160),
  out('lonely', 260),
  cam('a', 'garden', ['both'], 360),
  cam('b', 'drive', ['both'], 420),
  { id: 'both', type: 'junction', ...at(400, 390), wires: [['two']] },
  out('two', 390),
];

describe('mjpeg out dialog: the camera upstream (real node-red, Debian Chromium)', function () {
  this.timeout(120000);
  let nr;
  let browser;
  let page;

  before(async function () {
    nr = await startNodeRed(FLOW);
    browser = await launch({ viewport: { width: 1400, height: 1200 } });
    page = browser.page;
    await page.goto(`http://127.0.0.1:${nr.port}/`);
    await page.waitForFunction(() => window.RED && RED.nodes && RED.nodes.node('two') && window.glimpserEditor, null, { timeout: 60000 });
    assert.deepEqual(browser.errors, []);
  });

  after(async function () {
    if (browser) await browser.close();
    await nr?.stop();
  });

  /** What the empty Stream field and Per address say in the node's dialog. */
  async function dialogOf(id) {
    await page.evaluate((nodeId) => RED.editor.edit(RED.nodes.node(nodeId)), id);
    await page.waitForSelector('#node-input-stream', { state: 'visible' });
    const seen = await page.evaluate(() => ({ stream: $('#node-input-stream').attr('placeholder'), perAddress: $('#node-input-maxPerAddress').attr('placeholder') }));
    await page.evaluate(() => RED.tray.close());
    await page.waitForFunction(() => $('.red-ui-tray').length === 0);
    return seen;
  }

  it('names the camera found upstream through a change and a function node, and through a link out / link in pair', async function () {
    assert.deepEqual(await dialogOf('viaNodes'), { stream: 'front (the camera upstream)', perAddress: 'no limit' });
    assert.equal((await dialogOf('viaLink')).stream, 'porch (the camera upstream)');
  });

  it('says the Stream field must be set with no camera upstream, or two', async function () {
    assert.equal((await dialogOf('lonely')).stream, 'set it: no camera found upstream');
    assert.equal((await dialogOf('two')).stream, 'set it: several cameras upstream (garden, drive)');
  });

  it('a new node from the palette leaves Per address empty, and empty is valid', async function () {
    const node = await page.evaluate(() => {
      const def = RED.nodes.getType('glimpser-mjpeg-out');
      return { value: def.defaults.maxPerAddress.value, valid: def.defaults.maxPerAddress.validate.call(RED.nodes.node('lonely'), '', {}) };
    });
    assert.deepEqual(node, { value: '', valid: true });
  });
});

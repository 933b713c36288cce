'use strict';
// Nodes between a camera and its consumers, as users wire them (Node-RED's own change, function and link nodes), in a
// real Node-RED runtime with real FFmpeg: mjpeg-out and stream-health find the camera upstream with their Stream
// field empty, so a viewer starts an on-demand camera and gets its frames, and the still answers. A consumer with no
// camera, or several, upstream says at deploy that its Stream field must be set.
const assert = require('node:assert/strict');
const helper = require('../helpers/node-red').testHelper();
const { requireFromNodeRed } = require('../helpers/node-red');
const { withCatalogs } = require('../helpers/i18n');
const { openStream, nextParts, fetchBuffer, isCompleteJpeg } = require('../helpers/mjpeg-client');
const { callsOf, lastStatus } = require('../helpers/node-status');
const { until } = require('../helpers/procs');
const { useHttpRuntime } = require('../helpers/red-http');

const ours = withCatalogs([
  require('../../nodes/process-pool.js'),
  require('../../nodes/ffmpeg-source.js'),
  require('../../nodes/mjpeg-out.js'),
  require('../../nodes/stream-health.js'),
]);
const core = ['function/15-change.js', 'function/10-function.js', 'function/10-switch.js', 'common/60-link.js'].map((f) => requireFromNodeRed(`@node-red/nodes/core/${f}`));

const TAB = 'tab';
const pool = { id: 'pool', type: 'glimpser-process-pool', idleGrace: 0.5 };
const camera = (wires, props = {}) => ({ id: 'cam', z: TAB, type: 'glimpser-ffmpeg-source', name: 'front', pool: 'pool', source: 'testsrc2=size=320x240:rate=10', fps: 10, quality: 5, startMode: 'demand', wires: [wires], ...props });
const out = (props = {}) => ({ id: 'out', z: TAB, type: 'glimpser-mjpeg-out', name: 'front view', stream: '', path: '/glimpser/front.mjpg', stillPath: '/glimpser/front.jpg', maxViewers: 10, stallTimeout: 30, stillTimeout: 10, wires: [], ...props });
const change = (id, wires) => ({ id, z: TAB, type: 'change', rules: [{ t: 'set', p: 'topic', pt: 'msg', to: 'through a change', tot: 'str' }], wires: [wires] });
const fn = (id, wires) => ({ id, z: TAB, type: 'function', func: 'msg.seen = true;\nreturn msg;', outputs: 1, wires: [wires] });

/** Flows with the camera upstream of mjpeg-out through the nodes users put on wires. */
const BETWEEN = {
  'a change node': [camera(['chg']), change('chg', ['out'])],
  'a function node': [camera(['fn']), fn('fn', ['out'])],
  'a link out / link in pair': [
    camera(['lo']),
    { id: 'lo', z: TAB, type: 'link out', mode: 'link', links: ['li'], wires: [] },
    { id: 'li', z: TAB, type: 'link in', links: ['lo'], wires: [['out']] },
  ],
};

describe('nodes between a camera and its consumers (real FFmpeg, real Node-RED with its core nodes)', function () {
  this.timeout(60000);
  const rt = useHttpRuntime(helper);

  async function load(nodes) {
    // On a tab, a node without a position is taken for a config node.
    const placed = nodes.map((n, i) => ({ x: 100 + 150 * i, y: 100, ...n }));
    await rt.load([...ours, ...core], [{ id: TAB, type: 'tab', label: 'cams' }, pool, ...placed]);
    return helper.getNode('out');
  }
  const cameraStatus = () => lastStatus(helper.getNode('cam'))?.text;

  for (const [what, nodes] of Object.entries(BETWEEN)) {
    it(`through ${what}: a viewer starts the on-demand camera and gets its frames; the still answers; no warning`, async function () {
      const node = await load([...nodes, out()]);
      assert.deepEqual(callsOf(node, 'warn').map((c) => String(c.args[0])), [], 'the camera upstream was found');
      assert.equal(cameraStatus(), 'idle (on demand)');
      const viewer = await openStream(`${rt.base}/glimpser/front.mjpg`);
      await until(() => viewer.queue.filter((b) => !b.placeholder).length >= 3, 'real frames from the camera', 20000);
      for (const b of viewer.queue.filter((x) => !x.placeholder)) assert.ok(isCompleteJpeg(b));
      assert.match(cameraStatus(), /^healthy/);
      viewer.close();
      await until(() => cameraStatus() === 'idle (on demand)', 'the camera stops after its grace', 15000);
      // The still of the idle camera starts it again and answers with its first frame.
      const still = await fetchBuffer(`${rt.base}/glimpser/front.jpg`);
      assert.equal(still.status, 200);
      assert.ok(isCompleteJpeg(still.body));
    });
  }

  it('stream-health with its Stream empty watches the camera upstream through a function node', async function () {
    await load([
      camera(['fn'], { startMode: 'always' }),
      fn('fn', ['health']),
      { id: 'health', z: TAB, type: 'glimpser-stream-health', scope: 'stream', stream: '', interval: 0, wires: [[], []] },
    ]);
    const health = helper.getNode('health');
    assert.deepEqual(callsOf(health, 'error'), []);
    await until(() => /^front: healthy/.test(lastStatus(health)?.text ?? ''), 'the camera\'s health', 20000);
  });

  it('no camera upstream, or two: the node says at deploy that its Stream field must be set', async function () {
    const second = { ...camera(['join'], { id: 'cam2', name: 'back', source: 'testsrc2=size=160x120:rate=5' }) };
    await load([
      out({ id: 'lonely', path: '/glimpser/lonely.mjpg', stillPath: '' }),
      camera(['join']),
      second,
      { id: 'join', z: TAB, type: 'switch', property: 'payload', rules: [{ t: 'else' }], wires: [['out', 'health', 'named']] },
      out(),
      { id: 'health', z: TAB, type: 'glimpser-stream-health', scope: 'stream', stream: '', interval: 0, wires: [[], []] },
      // With its Stream set, a node between two cameras serves the one named.
      out({ id: 'named', stream: 'back', path: '/glimpser/back.mjpg', stillPath: '/glimpser/back.jpg' }),
    ]);
    const warnings = (id) => callsOf(helper.getNode(id), 'warn').map((c) => String(c.args[0]));
    assert.deepEqual(warnings('lonely'), [
      'No camera found upstream of this node: frames must come on its wire, and viewers cannot start a camera that runs on demand. To serve a camera, set the Stream field to its stream name',
    ]);
    assert.deepEqual(warnings('out'), ['Several cameras are upstream of this node (front, back): set the Stream field to the one it serves']);
    const health = helper.getNode('health');
    assert.deepEqual(callsOf(health, 'error').map((c) => String(c.args[0])), ['Several cameras are upstream of this node (front, back): name the one to watch in the Stream field']);
    assert.equal(lastStatus(health).fill, 'red');
    assert.deepEqual(warnings('named'), []);
    const still = await fetchBuffer(`${rt.base}/glimpser/back.jpg`);
    assert.equal(still.status, 200, 'the named camera started for its still');
  });
});

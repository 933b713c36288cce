'use strict';
// Issue 18 (9a): the nodes users put on a wire between a camera and motion-detect. A real FFmpeg camera with a box
// shown from 3 s to 5 s, then Node-RED's own change, function or link out/link in, then motion-detect with its
// Stream left empty: motion must fire ON and then OFF, whatever those nodes did to msg.gray and msg.frame.gray.
const assert = require('node:assert/strict');
const { testHelper, requireFromNodeRed, useRuntime } = require('../helpers/node-red');
const { withCatalogs } = require('../helpers/i18n');
const { waitFor } = require('../helpers/procs');

const helper = testHelper();
const [poolNode, sourceNode, motionNode] = withCatalogs([
  require('../../nodes/process-pool.js'),
  require('../../nodes/ffmpeg-source.js'),
  require('../../nodes/motion-detect.js'),
]);
const changeNode = requireFromNodeRed('@node-red/nodes/core/function/15-change.js');
const functionNode = requireFromNodeRed('@node-red/nodes/core/function/10-function.js');
const linkNode = requireFromNodeRed('@node-red/nodes/core/common/60-link.js');

const CAMERA = "color=c=0x808080:s=320x240:r=10,drawbox=x=100:y=90:w=50:h=50:color=black:t=fill:enable='between(t,3,5)',noise=alls=6:allf=t";

/** What sits between the camera ('src' wires to 'mid') and motion-detect ('md'). */
const BETWEEN = {
  change: [{ id: 'mid', type: 'change', rules: [{ t: 'set', p: 'camera', pt: 'msg', to: 'porch', tot: 'str' }], wires: [['md']] }],
  // A user's function that reshapes what it does not know: msg.gray (when there is one) becomes a list of frames.
  function: [{ id: 'mid', type: 'function', func: 'msg.gray = msg.gray ? Object.values(msg.gray) : [];\nreturn msg;', outputs: 1, wires: [['md']] }],
  'link out / link in': [
    { id: 'mid', type: 'link out', mode: 'link', links: ['lin'], wires: [] },
    { id: 'lin', type: 'link in', links: ['mid'], wires: [['md']] },
  ],
};

function flow(between, { stream = '', camera = CAMERA } = {}) {
  const nodes = [
    { id: 'pool', type: 'glimpser-process-pool', idleGrace: 0 },
    { id: 'src', type: 'glimpser-ffmpeg-source', name: 'porch', pool: 'pool', source: camera, fps: 10, quality: 5, startMode: 'always', wires: [['mid']] },
    ...between,
    { id: 'md', type: 'glimpser-motion-detect', stream, quietSeconds: 1, startFrames: 3, discoveryDelay: 0, wires: [['out']] },
    { id: 'out', type: 'helper' },
  ];
  // On a tab, with a position, as the editor saves them (the runtime takes a node without x/y for a config node).
  return [{ id: 'tab', type: 'tab', label: 'between' }, ...nodes.map((n) => (n.type === 'glimpser-process-pool' ? n : { z: 'tab', x: 100, y: 100, ...n }))];
}

describe('motion-detect behind the nodes users put on a wire (real FFmpeg, real Node-RED)', function () {
  this.timeout(40000);
  useRuntime(helper);

  /** Loads the flow, waits for ON then OFF; returns the motion node's messages and errors. */
  async function onThenOff(f, ms = 25000) {
    await helper.load([poolNode, sourceNode, motionNode, changeNode, functionNode, linkNode], f);
    const got = [];
    helper.getNode('out').on('input', (msg) => got.push(msg));
    const statuses = [];
    const errors = [];
    helper.getNode('md').on('call:status', (c) => statuses.push(c.args[0]));
    helper.getNode('md').on('call:error', (c) => errors.push(String(c.args[0])));
    const states = () => got.filter((m) => m.kind === 'motion').map((m) => m.payload).join(',');
    await waitFor(() => states() === 'ON,OFF', ms, 100);
    assert.equal(states(), 'ON,OFF', `motion events; last status ${JSON.stringify(statuses.at(-1))}`);
    const on = got.find((m) => m.kind === 'motion' && m.payload === 'ON');
    assert.equal(on.topic, 'glimpser/porch/motion', 'the stream name travels with the frames');
    assert.ok(on.changedArea >= 80, `changed area ${on.changedArea}`);
    return { got, errors };
  }

  for (const [name, between] of Object.entries(BETWEEN)) {
    it(`${name}: motion fires ON, then OFF`, async function () {
      await onThenOff(flow(between));
    });
  }

  it('Stream set, so the camera makes our gray size; a function turns msg.gray into a list and the JPEG into text: the gray frames are used', async function () {
    // Were the node to decode msg.payload, every frame would be a "not a decodable JPEG" error and no motion.
    const mid = [{ id: 'mid', type: 'function', func: 'msg.gray = msg.gray ? Object.values(msg.gray) : [];\nmsg.payload = "a picture was here";\nreturn msg;', outputs: 1, wires: [['md']] }];
    const { errors } = await onThenOff(flow(mid, { stream: 'porch' }));
    assert.deepEqual(errors, []);
  });

  it('Stream set, but a function drops every gray frame on the way: after 5 s of frames without one, the JPEGs are decoded', async function () {
    const late = CAMERA.replace('between(t,3,5)', 'between(t,8,10)');
    const mid = [{ id: 'mid', type: 'function', func: 'delete msg.gray;\nmsg.frame.gray = [];\nreturn msg;', outputs: 1, wires: [['md']] }];
    await onThenOff(flow(mid, { stream: 'porch', camera: late }), 30000);
  });
});

'use strict';
// Issue 17, "failure travels downstream": a motion-detect whose camera is refused, fails or recovers says so in its
// own status, with the camera's reason, instead of a green "no motion". Real Node-RED runtime; a real FFmpeg, and a
// fake one (test/fixtures/fake-ffmpeg) only to make a camera that refuses every connection.
const assert = require('node:assert/strict');
const path = require('node:path');
const { testHelper, useRuntime } = require('../helpers/node-red');
const helper = testHelper();
const { withCatalogs } = require('../helpers/i18n');
const { until } = require('../helpers/procs');

// A status not shown within 15 s fails naming it, well before the 30 s test timeout would fail it unnamed.
const SHOWS_WITHIN_MS = 15000;

const [poolNode, sourceNode, motionNode] = withCatalogs([
  require('../../nodes/process-pool.js'),
  require('../../nodes/ffmpeg-source.js'),
  require('../../nodes/motion-detect.js'),
]);
const FAKE = (mode) => path.join(__dirname, '..', 'fixtures', 'fake-ffmpeg', `ffmpeg-${mode}`);

function flow({ pool = {}, source = {} } = {}) {
  return [
    { id: 'tab', type: 'tab', label: 'cams' },
    { id: 'pool', type: 'glimpser-process-pool', idleGrace: 0, ...pool },
    { id: 'src', z: 'tab', x: 100, y: 100, type: 'glimpser-ffmpeg-source', name: 'front', pool: 'pool', source: 'testsrc2=size=320x240:rate=10', fps: 10, quality: 5, startMode: 'demand', wires: [['md']], ...source },
    { id: 'md', z: 'tab', x: 300, y: 100, type: 'glimpser-motion-detect', quietSeconds: 1, discoveryDelay: 0, wires: [[]] },
  ];
}

/** Every status the motion node showed, as it showed them. */
function watchStatus(node) {
  const seen = [];
  node.on('call:status', (c) => seen.push(c.args[0]));
  return seen;
}

describe('motion-detect shows its camera\'s failure (real Node-RED runtime)', function () {
  this.timeout(30000);
  useRuntime(helper);

  it('a camera whose settings were refused (fps 0): red ring with the camera\'s reason, not "no motion"', async function () {
    await helper.load([poolNode, sourceNode, motionNode], flow({ source: { fps: 0 } }));
    const md = helper.getNode('md');
    const seen = watchStatus(md);
    const last = () => seen.at(-1) ?? md.status.getCalls().filter((c) => c.thisValue === md).map((c) => c.args[0]).at(-1);
    await until(() => last() && last().fill === 'red', 'a red status', SHOWS_WITHIN_MS);
    const status = last();
    assert.equal(status.shape, 'ring');
    assert.match(status.text, /^camera failed: .*(fps|Frame rate).*0\.1 to 60/i, status.text);
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(last(), status, 'it stays');
  });

  it('a camera that refuses every connection: yellow ring while it recovers, with the reason', async function () {
    await helper.load([poolNode, sourceNode, motionNode], flow({ pool: { ffmpegPath: FAKE('die-at-start') } }));
    const md = helper.getNode('md');
    const seen = watchStatus(md);
    await until(() => seen.some((s) => s.fill === 'yellow' && /^camera recovering: /.test(s.text)), 'camera recovering', SHOWS_WITHIN_MS);
    const status = seen.find((s) => s.fill === 'yellow');
    assert.equal(status.shape, 'ring');
    assert.match(status.text, /Connection refused/, status.text);
    assert.ok(!seen.some((s) => s.fill === 'green'), `never green: ${JSON.stringify(seen)}`);
  });

  it('a camera killed mid-run: recovering shows, then the live state again once frames return', async function () {
    await helper.load([poolNode, sourceNode, motionNode], flow());
    const md = helper.getNode('md');
    const seen = watchStatus(md);
    const stream = helper.getNode('pool').pool.stream('front');
    const live = (s) => /ms\/frame$/.test(s.text) && (s.fill === 'green' || s.fill === 'blue');
    await until(() => stream.state === 'healthy' && seen.some(live), 'healthy, analysing', SHOWS_WITHIN_MS);
    const [pid] = stream.snapshot().pids;
    const before = seen.length;
    process.kill(pid, 'SIGKILL');
    await until(() => seen.slice(before).some((s) => s.fill === 'yellow' && /^camera recovering: /.test(s.text)), 'camera recovering', SHOWS_WITHIN_MS);
    const at = seen.length;
    await until(() => seen.slice(at).some(live), 'the live state again', SHOWS_WITHIN_MS);
  });
});

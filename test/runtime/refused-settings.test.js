'use strict';
// Settings outside what a node accepts are refused at deploy, in a real Node-RED runtime: a red status and an error
// naming the field and its range, and the node runs nothing on them (no stream defined, no path served, no frames
// asked for). Empty fields take their defaults. The editor accepts exactly the same values (test/browser/editor.test.js).
const assert = require('node:assert/strict');
const helper = require('../helpers/node-red').testHelper();
const { withCatalogs } = require('../helpers/i18n');
const { fetchBuffer } = require('../helpers/mjpeg-client');
const { useHttpRuntime } = require('../helpers/red-http');
const { statusesOf } = require('../helpers/node-status');

const [poolNode, sourceNode, mjpegOut, motionNode] = withCatalogs([
  require('../../nodes/process-pool.js'),
  require('../../nodes/ffmpeg-source.js'),
  require('../../nodes/mjpeg-out.js'),
  require('../../nodes/motion-detect.js'),
]);

const pool = (props = {}) => ({ id: 'pool', type: 'glimpser-process-pool', idleGrace: 0, ...props });
// On demand, with no consumer: nothing would start even when accepted.
const source = (props = {}) => ({ id: 'src', type: 'glimpser-ffmpeg-source', name: 'front', pool: 'pool', source: 'testsrc2=size=160x120:rate=5', fps: 5, quality: 5, startMode: 'demand', wires: [[]], ...props });

// The helper spies on the Node prototype: keep the calls made on this node.
function errorsOf(node) {
  return node.error.getCalls().filter((c) => c.thisValue === node).map((c) => String(c.args[0]));
}

describe('refused settings (real Node-RED runtime)', function () {
  this.timeout(30000);
  const rt = useHttpRuntime(helper);

  it('camera: width -5 and quality 99 are refused by name and range; no stream is defined; a snapshot request fails with the reason', async function () {
    await helper.load([poolNode, sourceNode], [pool(), source({ width: -5, quality: '99' })]);
    const src = helper.getNode('src');
    const width = 'Width (px) must be empty, 0 (as the source) or a whole number from 2 to 7680, got "-5"';
    const quality = 'JPEG quality must be a whole number from 2 to 31, got "99"';
    assert.deepEqual(errorsOf(src), [width, quality]);
    const red = statusesOf(src).find((s) => s.fill === 'red');
    assert.equal(red.shape, 'ring');
    assert.ok(width.startsWith(red.text.replace(/…$/, '')), red.text);
    assert.equal(helper.getNode('pool').pool.stream('front').definition, undefined, 'nothing defined from refused settings');
    // done(err) reports the error with the message it failed.
    const failed = new Promise((resolve) => src.on('call:error', (c) => c.args[1] && resolve(c.args)));
    src.receive({ payload: 'snap' });
    const [err, msg] = await failed;
    assert.equal(err.message, `${width}; ${quality}`);
    assert.equal(msg.payload, 'snap');
  });

  it('camera: an unknown read mode and pass-through of a non-HTTP source are refused', async function () {
    await helper.load([poolNode, sourceNode], [pool(), source({ mode: 'fast' }), source({ id: 'src2', name: 'back', mode: 'passthrough' })]);
    assert.deepEqual(errorsOf(helper.getNode('src')), ['Unknown read mode "fast": use auto, ffmpeg or passthrough']);
    assert.deepEqual(errorsOf(helper.getNode('src2')), ['MJPEG pass-through reads http:// or https:// cameras only; use FFmpeg for other sources']);
    const streams = helper.getNode('pool').pool;
    assert.equal(streams.stream('front').definition, undefined);
    assert.equal(streams.stream('back').definition, undefined);
  });

  it('camera: empty fields take the defaults (10 fps, as the source, quality 5, idle rate 0.5)', async function () {
    await helper.load([poolNode, sourceNode], [pool(), source({ fps: '', width: '', quality: ' ', lowFps: '', snapshotTimeout: '', mode: '' })]);
    assert.deepEqual(errorsOf(helper.getNode('src')), []);
    const def = helper.getNode('pool').pool.stream('front').definition;
    assert.equal(def.capture.fps, 10);
    assert.equal(def.capture.width, undefined);
    assert.equal(def.capture.quality, 5);
    assert.equal(def.lowFps, 0.5);
    assert.equal(def.capture.passthrough, false);
  });

  it('process pool: refused settings are reported by the pool, and its cameras refuse to start, saying why', async function () {
    await helper.load([poolNode, sourceNode], [pool({ idleGrace: -1, backoffBase: 2, backoffCap: 0.5 }), source()]);
    const idle = 'Idle grace (s) must be a number from 0 to 3600, got "-1"';
    const cap = 'Longest restart delay (0.5 s) must be at least the restart delay (2 s)';
    assert.deepEqual(errorsOf(helper.getNode('pool')), [idle, cap]);
    const src = helper.getNode('src');
    assert.deepEqual(errorsOf(src), [`its glimpser pool is refused: ${idle}; ${cap}`]);
    assert.equal(statusesOf(src).at(-1).fill, 'red');
    assert.equal(helper.getNode('pool').pool.stream('front').definition, undefined);
  });

  it('process pool: empty fields take the defaults, and an empty stall timeout is automatic', async function () {
    await helper.load([poolNode, sourceNode], [pool({ idleGrace: '', backoffBase: '', backoffCap: '', stallTimeout: '' }), source()]);
    assert.deepEqual(errorsOf(helper.getNode('pool')), []);
    assert.deepEqual(errorsOf(helper.getNode('src')), []);
    assert.ok(helper.getNode('pool').pool.stream('front').definition, 'the camera is defined');
  });

  it('mjpeg out: max viewers 0 and stall timeout -1 are refused; the path is not served', async function () {
    const out = (id, props) => ({ id, type: 'glimpser-mjpeg-out', name: `${id} stream`, path: `/glimpser/${id}.mjpg`, stillPath: `/glimpser/${id}.jpg`, wires: [], ...props });
    // Beside it, the same node with valid (and empty: default) settings serves its paths.
    await rt.load([mjpegOut], [out('bad', { maxViewers: 0, stallTimeout: '-1' }), out('good', { maxViewers: '', maxPerAddress: '', maxMegapixels: '', stallTimeout: '', stillTimeout: '' })]);
    const { base } = rt;
    const bad = helper.getNode('bad');
    assert.deepEqual(errorsOf(bad), ['Max viewers must be a whole number from 1 to 10000, got "0"', 'Stall timeout (s) must be a number from 1 to 3600, got "-1"']);
    assert.equal(statusesOf(bad).at(-1).fill, 'red');
    assert.equal((await fetchBuffer(`${base}/glimpser/bad.jpg`)).status, 404);
    assert.deepEqual(errorsOf(helper.getNode('good')), []);
    assert.equal((await fetchBuffer(`${base}/glimpser/good.jpg`)).status, 503, 'served (no frame yet)');
  });

  it('motion: 2.5 start frames and a threshold of 1 are refused; it asks its camera for no frames and announces nothing', async function () {
    // Discovery would go out 0.2 s after deploy: after the listener below is attached.
    const motion = (id, props) => ({ id, type: 'glimpser-motion-detect', name: `${id} motion`, stream: 'front', discoveryDelay: 0.2, wires: [['out']], ...props });
    await helper.load([poolNode, sourceNode, motionNode], [
      pool(),
      source(),
      motion('bad', { startFrames: 2.5, pixelThreshold: '1' }),
      { id: 'out', type: 'helper' },
    ]);
    const bad = helper.getNode('bad');
    const sent = [];
    helper.getNode('out').on('input', (m) => sent.push(m));
    assert.deepEqual(errorsOf(bad), ['Threshold must be a number from 0.005 to 0.9, got "1"', 'Start after (frames) must be a whole number from 1 to 100, got "2.5"']);
    assert.equal(statusesOf(bad).at(-1).fill, 'red');
    const stream = helper.getNode('pool').pool.stream('front');
    assert.deepEqual(stream.userIds().filter((id) => id === 'bad'), [], 'no gray frames asked for');
    assert.equal(stream.state, 'idle');
    // Its frames are dropped without another error per frame, and Home Assistant's birth announces nothing.
    bad.receive({ topic: 'front', payload: Buffer.from([0xff, 0xd8, 0xff, 0xd9]) });
    bad.receive({ topic: 'homeassistant/status', payload: 'online' });
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(errorsOf(bad).length, 2);
    assert.deepEqual(sent, [], 'no discovery, no state');
  });

  it('motion: the same node with valid settings asks its camera for gray frames (the control for the test above)', async function () {
    await helper.load([poolNode, sourceNode, motionNode], [
      pool(),
      source(),
      { id: 'good', type: 'glimpser-motion-detect', name: 'good motion', stream: 'front', discoveryDelay: 60, startFrames: '', pixelThreshold: '', wires: [[]] },
    ]);
    assert.deepEqual(errorsOf(helper.getNode('good')), []);
    const stream = helper.getNode('pool').pool.stream('front');
    assert.ok(stream.userIds().includes('good'));
    assert.notEqual(stream.state, 'idle', 'the gray demand starts the camera');
  });
});

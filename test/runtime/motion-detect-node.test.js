'use strict';
// The motion-detect node in a real Node-RED runtime (node-red-node-test-helper), fed the messages
// the ffmpeg-source sends (gray path) and plain JPEGs (sharp path), from synthetic FFmpeg scenes.
const assert = require('node:assert/strict');
const helper = require('../helpers/node-red').testHelper();
const { withCatalogs } = require('../helpers/i18n');
// Errors in the English of nodes/locales, as users read them.
const [motionNode] = withCatalogs([require('../../nodes/motion-detect.js')]);
const synth = require('../helpers/synth.js');

const STREAM = 'porch';

function flow(extra = {}) {
  return [
    { id: 'tab', type: 'tab', label: 'motion' },
    { id: 'm1', z: 'tab', type: 'glimpser-motion-detect', name: 'motion', stream: STREAM, quietSeconds: 1, startFrames: 3, discoveryDelay: 0, wires: [['out']], ...extra },
    { id: 'out', z: 'tab', type: 'helper' },
    // Node-RED's own Complete node: it fires once the node has called done() for a message, as a user's flow sees it.
    { id: 'cm', z: 'tab', type: 'complete', scope: ['m1'], wires: [['completed']] },
    { id: 'completed', z: 'tab', type: 'helper' },
  ];
}

// As an ffmpeg-source sends it: gray frames by the box each motion node asked for (ours is the default 240x180).
function grayMsg(data, n, base, w = 240, h = 180) {
  const time = base + n * 100;
  return {
    topic: STREAM,
    payload: Buffer.from([0xff, 0xd8, n & 255, 0xff, 0xd9]), // stands in for the JPEG; only attached, never decoded
    frame: { stream: STREAM, seq: n + 1, time, size: 5, jpeg: true, gray: ['240x180'] },
    gray: { '240x180': { data, width: w, height: h, seq: n + 1, time } },
  };
}

function collect(out) {
  const got = [];
  out.on('input', (msg) => got.push(msg));
  return got;
}

async function until(pred, ms = 20000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('glimpser-motion-detect node', function () {
  this.timeout(30000);
  let boxGray;
  before(async function () {
    boxGray = await synth.grayFrames({ box: { n0: 30, n1: 70 } }, 100);
  });
  beforeEach(function (done) { helper.startServer(done); });
  afterEach(function () { return helper.unload().then(() => helper.stopServer()); });

  it('gray path: discovery on deploy, then ON and OFF with details, availability online', async function () {
    await helper.load(motionNode, flow({ attachImage: true }));
    const m1 = helper.getNode('m1');
    const got = collect(helper.getNode('out'));
    await until(() => got.some((m) => m.kind === 'discovery'));
    const disc = got.find((m) => m.kind === 'discovery');
    assert.match(disc.topic, /^homeassistant\/binary_sensor\/glimpser_porch_motion_m1\/config$/);
    assert.equal(disc.retain, true);
    const cfg = JSON.parse(disc.payload);
    assert.equal(cfg.device_class, 'motion');
    assert.equal(cfg.state_topic, 'glimpser/porch/motion');
    assert.equal(cfg.availability[0].topic, 'glimpser/porch/availability');
    assert.equal(cfg.unique_id, 'glimpser_porch_motion_m1');
    assert.ok(cfg.device && cfg.device.identifiers.length === 1 && cfg.device.name);
    const base = Date.now();
    boxGray.forEach((f, n) => m1.receive(grayMsg(f, n, base)));
    await until(() => got.filter((m) => m.kind === 'motion').length >= 2);
    const motion = got.filter((m) => m.kind === 'motion');
    assert.deepEqual(motion.map((m) => m.payload), ['ON', 'OFF']);
    const [on, off] = motion;
    assert.equal(on.topic, 'glimpser/porch/motion');
    assert.ok(on.frameTime >= base + 30 * 100 && on.frameTime <= base + 35 * 100, `ON at ${(on.frameTime - base) / 100}`);
    assert.ok(off.frameTime > base + 70 * 100 && off.frameTime <= base + 84 * 100, `OFF at ${(off.frameTime - base) / 100}`);
    assert.ok(on.score > 0 && on.changedArea >= 80);
    assert.equal(on.regions.all.motion, true);
    assert.ok(on.bbox.x < 0.3 && on.bbox.w > 0 && on.bbox.h > 0);
    assert.ok(Buffer.isBuffer(on.image) && on.image[0] === 0xff && on.image[1] === 0xd8);
    assert.equal(off.event.reason, 'quiet');
    assert.equal(off.image, undefined);
    const avail = got.find((m) => m.kind === 'availability');
    assert.deepEqual([avail.topic, avail.payload, avail.retain], ['glimpser/porch/availability', 'online', true]);
  });

  it('Home Assistant birth message re-sends discovery and the current state', async function () {
    await helper.load(motionNode, flow({ discoveryDelay: 30 }));
    const m1 = helper.getNode('m1');
    const got = collect(helper.getNode('out'));
    m1.receive({ topic: 'homeassistant/status', payload: 'offline' });
    m1.receive({ topic: 'homeassistant/status', payload: 'online' });
    await until(() => got.length >= 3);
    assert.deepEqual(got.map((m) => m.kind), ['discovery', 'discovery', 'state']);
    assert.equal(got[0].reason, 'birth');
    assert.match(got[1].topic, /^homeassistant\/camera\//, 'the snapshot camera entity');
    assert.deepEqual([got[2].payload, got[2].retain], ['OFF', true]);
  });

  it('skips messages whose gray twin is missing, without decoding or erroring', async function () {
    await helper.load(motionNode, flow());
    const m1 = helper.getNode('m1');
    const completed = collect(helper.getNode('completed'));
    const errors = [];
    m1.on('call:error', (c) => errors.push(c.args[0]));
    const base = Date.now();
    for (let n = 0; n < 10; n++) {
      const msg = grayMsg(boxGray[n], n, base);
      if (n % 3 === 1) {
        // The source made no gray frame of our size for this one (its outputs were switching).
        delete msg.gray;
        msg.frame.gray = [];
      }
      m1.receive(msg);
    }
    // Every message is done with; a decode of the stand-in JPEGs would have reported "not a decodable JPEG".
    await until(() => completed.length === 10);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(errors, []);
  });

  it('bad input: truncated and odd-sized gray frames, a JPEG that does not decode, bad regions; detection goes on', async function () {
    await helper.load(motionNode, flow({
      regions: JSON.stringify([
        { name: 'two', points: [[0, 0], [1, 1]] },
        { name: 'far', points: [[0, 0], [2, 0], [1, 1]] },
        { name: 'ok', points: [[0, 0], [1, 0], [1, 1], [0, 1]] },
      ]),
    }));
    const m1 = helper.getNode('m1');
    const errors = [];
    m1.on('call:error', (c) => errors.push(String(c.args[0] && c.args[0].message || c.args[0])));
    const got = collect(helper.getNode('out'));
    const base = Date.now();
    m1.receive(grayMsg(boxGray[0].subarray(0, 5000), 0, base));
    m1.receive(grayMsg(boxGray[0], 0, base, 239, 180));
    m1.receive({ topic: STREAM, payload: Buffer.from('definitely not a jpeg') });
    await until(() => errors.some((e) => /not a decodable JPEG/.test(e)));
    boxGray.forEach((f, n) => m1.receive(grayMsg(f, n, base)));
    await until(() => got.filter((m) => m.kind === 'motion').length >= 2);
    assert.ok(errors.some((e) => /5000 bytes for 240x180/.test(e)), errors.join('\n'));
    assert.ok(errors.some((e) => /43200 bytes for 239x180 \(expected 43020/.test(e)), errors.join('\n'));
    assert.ok(errors.some((e) => /not a decodable JPEG/.test(e)), errors.join('\n'));
    assert.ok(errors.some((e) => /region "two": a polygon needs at least 3 points, got 2; region ignored/.test(e)), errors.join('\n'));
    assert.ok(errors.some((e) => /region "far": point 1 \[2, 0\] is out of range/.test(e)), errors.join('\n'));
    const motion = got.filter((m) => m.kind === 'motion');
    assert.deepEqual(motion.map((m) => m.payload), ['ON', 'OFF']);
    assert.deepEqual(Object.keys(motion[0].regions), ['ok']);
  });

  it('JPEG path (any other node): decodes with sharp to the analysis size and still fires ON then OFF', async function () {
    const jpegs = await synth.jpegFrames({ box: { n0: 30, n1: 70 } }, 100);
    await helper.load(motionNode, flow({ stream: '', analysisWidth: 160, analysisHeight: 160 }));
    const m1 = helper.getNode('m1');
    const got = collect(helper.getNode('out'));
    const completed = collect(helper.getNode('completed'));
    const base = Date.now();
    for (let n = 0; n < jpegs.length; n++) {
      // msg.frame.time carries the capture time; no gray frame: the node must decode the JPEG itself. One at a time:
      // a frame arriving during a decode would be dropped.
      m1.receive({ topic: 'garden', payload: jpegs[n], frame: { stream: 'garden', time: base + n * 100 } });
      await until(() => completed.length > n);
    }
    await until(() => got.filter((m) => m.kind === 'motion').length >= 2);
    const motion = got.filter((m) => m.kind === 'motion');
    assert.deepEqual(motion.map((m) => m.payload), ['ON', 'OFF']);
    assert.equal(motion[0].topic, 'glimpser/garden/motion');
    assert.ok(motion[0].frameTime - base >= 3000 && motion[0].frameTime - base <= 3500);
    // The stream name was learned from the messages; discovery followed it.
    assert.ok(got.some((m) => m.kind === 'discovery' && /glimpser_garden_motion/.test(m.topic)));
  });

  it('stuck-ON safety: frames stop during motion, OFF (reason no-frames) and availability offline follow', async function () {
    await helper.load(motionNode, flow({ staleSeconds: 1, quietSeconds: 30 }));
    const m1 = helper.getNode('m1');
    const got = collect(helper.getNode('out'));
    const base = Date.now() - 4000; // the last frame is 100 ms old when frames stop
    for (let n = 0; n < 40; n++) m1.receive(grayMsg(boxGray[n], n, base));
    await until(() => got.some((m) => m.payload === 'ON'));
    await until(() => got.some((m) => m.payload === 'OFF'), 5000);
    const off = got.find((m) => m.payload === 'OFF');
    assert.equal(off.event.reason, 'no-frames');
    await until(() => got.some((m) => m.kind === 'availability' && m.payload === 'offline'), 5000);
  });
});

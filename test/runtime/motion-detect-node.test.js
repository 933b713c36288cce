'use strict';
// The motion-detect node in a real Node-RED runtime (node-red-node-test-helper), fed the messages
// the ffmpeg-source sends (gray path) and plain JPEGs (sharp path), from synthetic FFmpeg scenes.
const assert = require('node:assert/strict');
const { testHelper, useRuntime } = require('../helpers/node-red');
const helper = testHelper();
const { withCatalogs } = require('../helpers/i18n');
// Errors in the English of nodes/locales, as users read them.
const [motionNode] = withCatalogs([require('../../nodes/motion-detect.js')]);
const synth = require('../helpers/synth.js');
const { until } = require('../helpers/procs');

const STREAM = 'porch';

function flow(extra = {}) {
  return onTab([
    { id: 'm1', type: 'glimpser-motion-detect', name: 'motion', stream: STREAM, quietSeconds: 1, startFrames: 3, discoveryDelay: 0, wires: [['out']], ...extra },
    { id: 'out', type: 'helper' },
    // Node-RED's own Complete node: it fires once the node has called done() for a message, as a user's flow sees it.
    { id: 'cm', type: 'complete', scope: ['m1'], wires: [['completed']] },
    { id: 'completed', type: 'helper' },
  ]);
}

/** On a tab, with a position, as the editor saves them (the runtime takes a node without x/y for a config node). */
function onTab(nodes) {
  return [{ id: 'tab', type: 'tab', label: 'motion' }, ...nodes.map((n) => ({ z: 'tab', x: 100, y: 100, ...n }))];
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

describe('glimpser-motion-detect node', function () {
  this.timeout(30000);
  let boxGray;
  before(async function () {
    boxGray = await synth.grayFrames({ box: { n0: 30, n1: 70 } }, 100);
  });
  useRuntime(helper);

  it('gray path: discovery on deploy, then ON and OFF with details, availability online', async function () {
    await helper.load(motionNode, flow({ attachImage: true }));
    const m1 = helper.getNode('m1');
    const got = collect(helper.getNode('out'));
    await until(() => got.some((m) => m.kind === 'discovery'), 'discovery');
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
    await until(() => got.filter((m) => m.kind === 'motion').length >= 2, 'ON and OFF');
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
    await until(() => got.length >= 3, 'discovery twice and the state');
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
    await until(() => completed.length === 10, 'every message done');
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(errors, []);
  });

  it('bad input: truncated and odd-sized gray frames, a JPEG that does not decode, bad regions; detection goes on', async function () {
    // Per-frame errors are reported once per period: a short one here, so each bad input gets its own report.
    helper.settings({ glimpser: { errorReportSeconds: 0.1 } });
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
    const bad = [
      grayMsg(boxGray[0].subarray(0, 5000), 0, base),
      grayMsg(boxGray[0], 0, base, 239, 180),
      { topic: STREAM, payload: Buffer.from('definitely not a jpeg') },
    ];
    for (const msg of bad) {
      const before = errors.length;
      m1.receive(msg);
      await until(() => errors.length > before, 'its error');
      await new Promise((r) => setTimeout(r, 150));
    }
    boxGray.forEach((f, n) => m1.receive(grayMsg(f, n, base)));
    await until(() => got.filter((m) => m.kind === 'motion').length >= 2, 'ON and OFF');
    assert.ok(errors.some((e) => /5000 bytes for 240x180/.test(e)), errors.join('\n'));
    assert.ok(errors.some((e) => /43200 bytes for 239x180 \(expected 43020/.test(e)), errors.join('\n'));
    assert.ok(errors.some((e) => /not a decodable JPEG/.test(e)), errors.join('\n'));
    assert.ok(errors.some((e) => /region "two": a polygon needs at least 3 points, got 2; region ignored/.test(e)), errors.join('\n'));
    assert.ok(errors.some((e) => /region "far": point 1 \[2, 0\] is out of range/.test(e)), errors.join('\n'));
    const motion = got.filter((m) => m.kind === 'motion');
    assert.deepEqual(motion.map((m) => m.payload), ['ON', 'OFF']);
    assert.deepEqual(Object.keys(motion[0].regions), ['ok']);
  });

  it('a bad region stays in the status while detection goes on with the others', async function () {
    // No Stream: the node registers with no camera, so the statuses are all its own.
    await helper.load(motionNode, flow({
      stream: '',
      regions: JSON.stringify([{ name: 'two', points: [[0, 0], [1, 1]] }, { name: 'ok', points: [[0, 0], [1, 0], [1, 1], [0, 1]] }]),
    }));
    const m1 = helper.getNode('m1');
    const statuses = [];
    m1.on('call:status', (c) => statuses.push(c.args[0]));
    const got = collect(helper.getNode('out'));
    const base = Date.now();
    boxGray.forEach((f, n) => m1.receive(grayMsg(f, n, base)));
    await until(() => got.filter((m) => m.kind === 'motion').length >= 2, 'ON and OFF');
    // Every status the frames brought still names the problem, beside the live state.
    assert.ok(statuses.length >= 2, JSON.stringify(statuses));
    for (const st of statuses) {
      assert.equal(st.fill, 'red', JSON.stringify(st));
      assert.match(st.text, /^bad regions · /, JSON.stringify(st));
    }
    assert.ok(statuses.some((st) => /^bad regions · motion /.test(st.text)), JSON.stringify(statuses));
  });

  it('a JPEG claiming 16000x16000 at 10 fps: one report per period with how many more there were; Catch nodes get the same', async function () {
    const small = synth.splitJpegs(await synth.runFfmpeg(['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=s=320x240', '-frames:v', '1', '-f', 'mjpeg', 'pipe:1']))[0];
    const huge = Buffer.from(small);
    const sof = huge.indexOf(Buffer.from([0xff, 0xc0]));
    huge.writeUInt16BE(16000, sof + 5);
    huge.writeUInt16BE(16000, sof + 7);
    // A 1 s period over 3 s stands for the default 10 s over 30 s.
    helper.settings({ glimpser: { errorReportSeconds: 1 } });
    await helper.load(motionNode, [
      ...flow({ stream: '' }),
      ...onTab([
        { id: 'catch', type: 'catch', scope: ['m1'], uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ]).slice(1),
    ]);
    const m1 = helper.getNode('m1');
    const errors = [];
    m1.on('call:error', (c) => errors.push(String(c.args[0] && c.args[0].message || c.args[0])));
    const statuses = [];
    m1.on('call:status', (c) => statuses.push(c.args[0]));
    const caught = collect(helper.getNode('caught'));
    const completed = collect(helper.getNode('completed'));
    const t0 = Date.now();
    let sent = 0;
    while (Date.now() - t0 < 3000) {
      m1.receive({ topic: 'front', payload: huge, frame: { stream: 'front', time: Date.now() } });
      sent++;
      await new Promise((r) => setTimeout(r, 100));
    }
    await until(() => completed.length + caught.length >= sent, 'every message done or caught');
    assert.ok(sent >= 25, `sent ${sent}`);
    assert.ok(errors.length >= 2 && errors.length <= 4, `${errors.length} reports for ${sent} bad frames in 3 s:\n${errors.join('\n')}`);
    assert.match(errors[0], /not a decodable JPEG/);
    assert.doesNotMatch(errors[0], /more since the last report/);
    for (const e of errors.slice(1)) assert.match(e, /not a decodable JPEG .*\(and \d+ more since the last report\)$/);
    const held = errors.slice(1).reduce((n, e) => n + Number(/and (\d+) more/.exec(e)[1]), 0);
    assert.ok(held >= sent - errors.length - 10, `held back ${held} of ${sent}`);
    assert.equal(caught.length, errors.length, 'Catch nodes see each report');
    assert.match(statuses.at(-1).text, /^JPEG did not decode: /);
    assert.equal(statuses.at(-1).fill, 'red');
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
      await until(() => completed.length > n, `frame ${n} done`);
    }
    await until(() => got.filter((m) => m.kind === 'motion').length >= 2, 'ON and OFF');
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
    await until(() => got.some((m) => m.payload === 'ON'), 'ON');
    await until(() => got.some((m) => m.payload === 'OFF'), 'OFF', 5000);
    const off = got.find((m) => m.payload === 'OFF');
    assert.equal(off.event.reason, 'no-frames');
    await until(() => got.some((m) => m.kind === 'availability' && m.payload === 'offline'), 'availability offline', 5000);
  });
});

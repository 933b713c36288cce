'use strict';
// Motion core against synthetic FFmpeg scenes with known ground truth (10 fps, 240x180 gray, as the
// ffmpeg-source's second output delivers them). Frame numbers below are the scene's truth.
const assert = require('node:assert/strict');
const { MotionDetector, GrayFrameError } = require('../../dist/core/motion/detector.js');
const { MotionEvents } = require('../../dist/core/motion/events.js');
const { parseRegions, buildRegionMask, RegionError } = require('../../dist/core/motion/roi.js');
const synth = require('../helpers/synth.js');

const core = { MotionDetector, MotionEvents };
const K = 3; // startFrames
const QUIET_FRAMES = 10; // quietMs 1000 at 10 fps
const summary = [];

function run(frames, regions) {
  return synth.runCore(core, frames, { detectorOptions: { regions: regions ? parseRegions(regions) : [] } });
}

function record(scene, truth, events) {
  summary.push({ scene, truth, events: events.map((e) => `${e.kind}@${e.frame}`).join(' ') || 'none' });
}

/** One event, starting within K+2 frames of the truth and ending within quiet+3 frames after the last motion. */
function assertOneEvent(events, n0, n1) {
  assert.equal(events.length, 2, `expected one start and one end, got ${JSON.stringify(events.map((e) => [e.kind, e.frame]))}`);
  const [start, end] = events;
  assert.equal(start.kind, 'start');
  assert.ok(start.frame >= n0 && start.frame <= n0 + K + 2, `start at frame ${start.frame}, truth ${n0}`);
  assert.equal(end.kind, 'end');
  assert.ok(end.frame > n1 && end.frame <= n1 + QUIET_FRAMES + 3, `end at frame ${end.frame}, truth ${n1}`);
  return { start, end };
}

describe('motion core: synthetic scenes with ground truth', function () {
  this.timeout(60000);

  after(function () {
    process.stdout.write('\n      ground truth vs events (frame numbers, 10 fps):\n');
    for (const s of summary) process.stdout.write(`        ${s.scene.padEnd(34)} truth: ${s.truth.padEnd(22)} events: ${s.events}\n`);
  });

  it('a box crossing a still scene: one event, started and ended on time', async function () {
    const frames = await synth.grayFrames({ box: { n0: 30, n1: 70 } }, 110);
    const { events } = run(frames);
    record('box enters 30, leaves 70', 'motion 30..70', events);
    const { start } = assertOneEvent(events, 30, 70);
    // The box starts at x=10..50 of 320 and moves right: the box must be in the left part.
    assert.ok(start.bbox && start.bbox.x < 0.2 && start.bbox.w < 0.4, JSON.stringify(start.bbox));
  });

  it('a box on a heavily noisy scene still fires once', async function () {
    const frames = await synth.grayFrames({ box: { n0: 30, n1: 70, color: 'white' }, noise: 20 }, 110);
    const { events } = run(frames);
    record('box on noise=20', 'motion 30..70', events);
    assertOneEvent(events, 30, 70);
  });

  const quietScenes = [
    ['noise only, flat gray (alls=20)', { base: 'gray', noise: 20 }],
    ['noise only, textured still (alls=20)', { noise: 20 }],
    ['light switched on at 40 (+25%)', { post: "eq=brightness=0.25:enable='gte(n,40)'" }],
    ['light switched off at 40 (dark)', { post: "eq=brightness=-0.3:contrast=0.5:enable='gte(n,40)'" }],
    ['exposure gain x1.6 at 40', { post: "lutyuv=y='clip(val*1.6,0,255)':enable='gte(n,40)'" }],
    ['gamma 2.2 at 40', { post: "eq=gamma=2.2:enable='gte(n,40)'" }],
    ['slow brightness ramp (clouds)', { post: "eq=brightness='min(0.5,t*0.06)':eval=frame" }],
    ['IR day/night switch (inverted) at 40', { post: "lutyuv=y='255-val':enable='gte(n,40)'" }],
  ];
  for (const [name, opts] of quietScenes) {
    it(`no event: ${name}`, async function () {
      const frames = await synth.grayFrames(opts, 100);
      const { events, perFrame } = run(frames);
      record(name, 'no motion', events);
      assert.deepEqual(events.map((e) => `${e.kind}@${e.frame}`), []);
      assert.ok(perFrame.slice(12).every((p) => !p.motion), 'no single motion frame after learning');
    });
  }

  it('a light switched on while a box moves: still one event', async function () {
    const frames = await synth.grayFrames({ box: { n0: 30, n1: 70 }, post: "eq=brightness=0.2:enable='gte(n,50)'" }, 110);
    const { events } = run(frames);
    record('box 30..70 + light on at 50', 'motion 30..70', events);
    assert.equal(events.filter((e) => e.kind === 'start').length, 1);
    assert.ok(events[0].frame >= 30 && events[0].frame <= 30 + K + 2);
  });

  const excludeLeft = [{ name: 'road', type: 'exclude', points: [[0, 0], [0.4, 0], [0.4, 1], [0, 1]] }];
  const slowLeftBox = { n0: 30, n1: 70, x0: 5, speed: 1, size: 30 };

  it('an object moving only inside an exclude area: no event (and the same video fires without it)', async function () {
    const frames = await synth.grayFrames({ box: slowLeftBox }, 100);
    const excluded = run(frames, excludeLeft);
    record('box inside exclude area', 'no motion (excluded)', excluded.events);
    assert.equal(excluded.events.length, 0);
    const control = run(frames);
    record('same, no regions (control)', 'motion 30..70', control.events);
    assertOneEvent(control.events, 30, 70);
  });

  it('two regions, motion in one: only that region reports', async function () {
    const frames = await synth.grayFrames({ box: { n0: 30, n1: 70, x0: 200, speed: 1, size: 30 } }, 100);
    const regions = [
      { name: 'left', points: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]] },
      { name: 'right', points: [{ x: 0.5, y: 0 }, { x: 1, y: 0 }, { x: 1, y: 1 }, { x: 0.5, y: 1 }] },
    ];
    const { events, perFrame } = run(frames, regions);
    record('two regions, box in "right"', 'right 30..70, left none', events);
    assertOneEvent(events, 30, 70);
    const start = events[0];
    assert.deepEqual(start.regions.map((r) => [r.name, r.motion]), [['left', false], ['right', true]]);
    assert.ok(perFrame.every((p) => p.regions[0].changedArea === 0 || !p.regions[0].motion), 'left never reports motion');
  });

  it('a region smaller than the box still reports', async function () {
    const frames = await synth.grayFrames({ box: { n0: 30, n1: 70 } }, 100);
    // The box row is y=100..140 of 240 in 320 wide; a small door region on its path.
    const { events } = run(frames, [{ name: 'door', points: [[0.4, 0.4], [0.5, 0.4], [0.5, 0.6], [0.4, 0.6]] }]);
    record('small region on the box path', 'box over region 46..58', events);
    assert.equal(events.filter((e) => e.kind === 'start').length, 1);
    assert.ok(events[0].regions[0].motion);
  });
});

describe('motion core: bad input', function () {
  it('rejects truncated and wrongly sized gray frames with clear errors, and goes on detecting', async function () {
    const frames = await synth.grayFrames({ box: { n0: 30, n1: 70 } }, 60);
    const det = new MotionDetector();
    const ev = new MotionEvents({ startFrames: K, quietMs: 1000 });
    const starts = [];
    frames.forEach((f, n) => {
      if (n === 20) assert.throws(() => det.detect(f.subarray(0, 1000), 240, 180), (e) => e instanceof GrayFrameError && /1000 bytes for 240x180/.test(e.message));
      if (n === 21) assert.throws(() => det.detect(f, 241, 180), (e) => e instanceof GrayFrameError && /expected 43380/.test(e.message));
      if (n === 22) assert.throws(() => det.detect('nope', 240, 180), GrayFrameError);
      if (n === 23) assert.throws(() => det.detect(f, 240.5, 180), /bad size/);
      const r = det.detect(f, 240, 180);
      if (ev.frame(r.motion, n * 100)?.kind === 'start') starts.push(n);
    });
    assert.equal(starts.length, 1);
    assert.ok(starts[0] >= 30 && starts[0] <= 35, `start at ${starts[0]}`);
  });

  it('a frame size change re-seeds instead of failing', function () {
    const det = new MotionDetector();
    det.detect(Buffer.alloc(240 * 180, 100), 240, 180);
    const r = det.detect(Buffer.alloc(240 * 135, 100), 240, 135);
    assert.equal(r.motion, false);
    assert.equal(r.learning, true);
    assert.equal(r.width, 240);
    assert.equal(r.height, 135);
  });

  it('region errors name the region and the problem', function () {
    assert.throws(() => parseRegions([{ name: 'door', points: [[0, 0], [1, 1]] }]), (e) => e instanceof RegionError && /door.*at least 3 points, got 2/.test(e.message));
    assert.throws(() => parseRegions([{ name: 'far', points: [[0, 0], [1.5, 0], [1, 1]] }]), /far.*out of range/);
    assert.throws(() => parseRegions([{ points: [[0, 0], [-0.1, 0], [1, 1]] }]), /region1.*out of range/);
    assert.throws(() => parseRegions('[{"name":'), /not valid JSON/);
    assert.throws(() => parseRegions({}), /expected an array/);
    assert.throws(() => parseRegions([{ name: 'a', type: 'maybe', points: [[0, 0], [1, 0], [1, 1]] }]), /type must be/);
    assert.throws(() => parseRegions([{ name: 'a', points: [[0, 0], [1, 0], ['x', 1]] }]), /point 2 is not/);
    assert.throws(() => parseRegions([{ name: 'a', points: [[0, 0], [1, 0], [1, 1]] }, { name: 'a', points: [[0, 0], [1, 0], [1, 1]] }]), /duplicate/);
    assert.deepEqual(parseRegions(''), []);
    assert.deepEqual(parseRegions(undefined), []);
  });
});

describe('motion core: region raster', function () {
  it('includes cover their share of the frame and excludes cut them', function () {
    const regions = parseRegions([
      { name: 'left', points: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]] },
      { name: 'tri', points: [[0, 0], [1, 0], [0, 1]] },
      { name: 'hole', type: 'exclude', points: [[0, 0], [0.25, 0], [0.25, 0.5], [0, 0.5]] },
    ]);
    const m = buildRegionMask(regions, 240, 180);
    assert.equal(m.includes.length, 2);
    assert.equal(m.regionArea[0], 120 * 180 - 60 * 90);
    // Half the frame minus the part of the hole inside the triangle (the hole is fully inside it).
    assert.ok(Math.abs(m.regionArea[1] - (240 * 180 / 2 - 60 * 90)) < 200, String(m.regionArea[1]));
    assert.equal(m.regionBits[0], 0, 'excluded corner');
    assert.equal(m.regionBits[100 * 240 + 10], 0b11, 'in both includes');
    assert.equal(m.regionBits[170 * 240 + 230], 0, 'outside every include');
    let sum = 0;
    for (let s = 0; s < m.spanCount; s++) sum += m.spanEnd[s] - m.spanStart[s];
    assert.equal(sum, m.activeArea);
  });

  it('no include region means the whole frame, minus excludes', function () {
    const m = buildRegionMask(parseRegions([{ name: 'ts', type: 'exclude', points: [[0, 0], [1, 0], [1, 0.1], [0, 0.1]] }]), 240, 180);
    assert.equal(m.activeArea, 240 * 162);
    assert.equal(m.includes[0].name, 'all');
  });

  it('pixels outside every region are never flagged, however much they change', function () {
    const det = new MotionDetector({ regions: parseRegions([{ name: 'top', points: [[0, 0], [1, 0], [1, 0.5], [0, 0.5]] }]) });
    const still = Buffer.alloc(240 * 180, 80);
    for (let i = 0; i < 12; i++) det.detect(still, 240, 180);
    const moved = Buffer.from(still);
    moved.fill(250, 240 * 100, 240 * 160); // a big change in the bottom half only
    const r = det.detect(moved, 240, 180);
    assert.equal(r.motion, false);
    assert.equal(r.changedArea, 0);
    const top = Buffer.from(still);
    top.fill(250, 240 * 20, 240 * 40);
    const r2 = det.detect(top, 240, 180);
    assert.equal(r2.motion, true);
    assert.ok(r2.bbox.y >= 0.1 && r2.bbox.y + r2.bbox.h <= 0.23, JSON.stringify(r2.bbox));
  });

  it('single-pixel noise never counts', function () {
    const det = new MotionDetector({ minArea: 1 });
    const still = Buffer.alloc(240 * 180, 80);
    for (let i = 0; i < 12; i++) det.detect(still, 240, 180);
    const speckle = Buffer.from(still);
    for (let i = 0; i < 400; i++) speckle[(i * 7919) % speckle.length] = 255; // isolated pixels
    const r = det.detect(speckle, 240, 180);
    assert.equal(r.changedArea, 0);
    assert.equal(r.motion, false);
  });
});

describe('motion events: hysteresis, quiet period, cooldown, stuck-ON safety', function () {
  it('starts after K consecutive motion frames only', function () {
    const ev = new MotionEvents({ startFrames: 3, quietMs: 500, cooldownMs: 0, staleMs: 1000 });
    const seq = [1, 1, 0, 1, 1, 0, 1, 1, 1];
    const out = seq.map((m, n) => ev.frame(!!m, n * 100));
    assert.deepEqual(out.map((e, n) => e && `${e.kind}@${n}`).filter(Boolean), ['start@8']);
  });

  it('ends after the quiet period, not at the first quiet frame, and motion inside it keeps the event', function () {
    const ev = new MotionEvents({ startFrames: 1, quietMs: 500, cooldownMs: 0 });
    const kinds = [];
    const seq = [1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
    seq.forEach((m, n) => { const e = ev.frame(!!m, n * 100); if (e) kinds.push(`${e.kind}@${n}${e.reason ? ':' + e.reason : ''}`); });
    assert.deepEqual(kinds, ['start@0', 'end@9:quiet']);
  });

  it('rate limit: no new start within the cooldown after an end', function () {
    const ev = new MotionEvents({ startFrames: 1, quietMs: 100, cooldownMs: 1000 });
    const kinds = [];
    const seq = [1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1];
    seq.forEach((m, n) => { const e = ev.frame(!!m, n * 100); if (e) kinds.push(`${e.kind}@${n}`); });
    assert.deepEqual(kinds, ['start@0', 'end@1', 'start@12']);
  });

  it('ends a stuck ON when frames stop, and alive() (skipped frames) keeps it from firing', function () {
    const ev = new MotionEvents({ startFrames: 1, quietMs: 60000, staleMs: 2000 });
    assert.equal(ev.frame(true, 1000).kind, 'start');
    assert.equal(ev.tick(2500), null);
    ev.alive(2500);
    assert.equal(ev.tick(4000), null);
    const end = ev.tick(4600);
    assert.deepEqual([end.kind, end.reason, end.startedAt], ['end', 'no-frames', 1000]);
    assert.equal(ev.tick(9000), null, 'once');
  });
});

describe('Home Assistant discovery payload', function () {
  const { discoveryMessage, availabilityMessage, stateTopic, sanitizeId } = require('../../dist/core/motion/ha-discovery.js');
  it('is a retained binary_sensor config with motion class, ids, device and availability', function () {
    const m = discoveryMessage({ topicPrefix: 'glimpser/', stream: 'Front Door', nodeId: 'a1b2.c3', version: '0.1.0' });
    assert.equal(m.topic, 'homeassistant/binary_sensor/glimpser_front_door_motion_a1b2_c3/config');
    assert.equal(m.retain, true);
    const c = JSON.parse(m.payload);
    assert.equal(c.device_class, 'motion');
    assert.equal(c.unique_id, 'glimpser_front_door_motion_a1b2_c3');
    assert.equal(c.state_topic, 'glimpser/Front Door/motion');
    assert.equal(c.availability[0].topic, 'glimpser/Front Door/availability');
    assert.equal(c.availability[1].topic, 'glimpser/status');
    assert.equal(c.availability_mode, 'latest');
    assert.deepEqual([c.payload_on, c.payload_off], ['ON', 'OFF']);
    for (const a of c.availability) assert.deepEqual([a.payload_available, a.payload_not_available], ['online', 'offline']);
    assert.equal(c.json_attributes_topic, 'glimpser/Front Door/motion/attributes');
    assert.equal(c.availability_topic, undefined, 'the list replaces the single topic (Home Assistant refuses both)');
    assert.equal(c.object_id, undefined, 'no deprecated object_id');
    assert.deepEqual(c.device.identifiers, ['glimpser_front_door']);
    assert.equal(c.device.sw_version, '0.1.0');
    assert.equal(c.device.name, 'Camera Front Door');
  });
  it('names the device after the stream, without saying camera twice ("camera 1", not "Camera camera 1")', function () {
    const { deviceName } = require('../../dist/core/motion/ha-discovery.js');
    assert.deepEqual(['porch', 'camera 1', 'Garage cam', 'camping'].map(deviceName), ['Camera porch', 'camera 1', 'Garage cam', 'Camera camping']);
  });
  it('has a camera entity for the motion snapshot on the same device', function () {
    const { cameraDiscoveryMessage } = require('../../dist/core/motion/ha-discovery.js');
    const m = cameraDiscoveryMessage({ topicPrefix: 'glimpser', stream: 'porch', nodeId: 'n1' });
    assert.equal(m.topic, 'homeassistant/camera/glimpser_porch_motion_snapshot_n1/config');
    assert.equal(m.retain, true);
    const c = JSON.parse(m.payload);
    assert.equal(c.topic, 'glimpser/porch/snapshot');
    assert.deepEqual(c.device.identifiers, ['glimpser_porch']);
    assert.equal(c.image_encoding, undefined, 'raw JPEG bytes, not base64');
  });
  it('keeps wildcards and extra levels out of topics', function () {
    assert.equal(stateTopic('glimpser', 'a/b+#'), 'glimpser/a_b_/motion');
    assert.equal(sanitizeId('!!'), 'camera');
    assert.deepEqual(availabilityMessage('g', 's', false), { topic: 'g/s/availability', payload: 'offline', retain: true, qos: 1 });
  });
});

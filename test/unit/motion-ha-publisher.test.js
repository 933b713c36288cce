'use strict';
// The Home Assistant publisher alone: no Node-RED, no broker. Events go in, the exact MQTT messages come out.
const assert = require('node:assert/strict');
const { HaPublisher } = require('../../dist/core/motion/ha-publisher.js');
const { discoveryMessage, cameraDiscoveryMessage } = require('../../dist/core/motion/ha-discovery.js');

const OPTS = { topicPrefix: 'glimpser', discovery: true, discoveryPrefix: 'homeassistant', cameraEntity: true, attachImage: false, nodeId: 'n1', version: '9.9.9' };
const JPEG_A = Buffer.from([0xff, 0xd8, 1, 0xff, 0xd9]);
const JPEG_B = Buffer.from([0xff, 0xd8, 2, 0xff, 0xd9]);

/** A detector result as MotionDetector.detect returns it (only what the publisher reads). */
function result({ score = 0.123456, changedArea = 321, motion = true } = {}) {
  return {
    motion,
    learning: false,
    score,
    changedArea,
    globalChange: false,
    bbox: { x: 0.111111, y: 0.2, w: 0.333333, h: 0.25 },
    regions: [
      { name: 'door', motion: true, score: 0.2345678, changedArea: 300 },
      { name: 'path', motion: false, score: 0.01, changedArea: 21 },
    ],
  };
}

const disc = (stream, nodeId = 'n1') => ({ topicPrefix: 'glimpser', stream, nodeId, discoveryPrefix: 'homeassistant', name: undefined, version: '9.9.9' });

describe('Home Assistant publisher', function () {
  it('announces discovery for both entities and the current state; availability only once online', function () {
    const p = new HaPublisher(OPTS, 'porch');
    assert.equal(p.announced, false);
    assert.deepEqual(p.announce(false, 'deploy'), [
      { ...discoveryMessage(disc('porch')), kind: 'discovery', reason: 'deploy', stream: 'porch' },
      { ...cameraDiscoveryMessage(disc('porch')), kind: 'discovery', reason: 'deploy', stream: 'porch' },
      { topic: 'glimpser/porch/motion', payload: 'OFF', retain: true, qos: 1, kind: 'state', stream: 'porch', reason: 'deploy' },
    ]);
    assert.equal(p.announced, true);
    assert.deepEqual(p.setOnline(true), [{ topic: 'glimpser/porch/availability', payload: 'online', retain: true, qos: 1, kind: 'availability', stream: 'porch' }]);
    assert.deepEqual(p.setOnline(true), [], 'no message without a change');
    const birth = p.announce(true, 'birth');
    assert.deepEqual(birth.map((m) => [m.kind, m.topic, String(m.payload).slice(0, 6)]), [
      ['discovery', 'homeassistant/binary_sensor/glimpser_porch_motion_n1/config', '{"name'],
      ['discovery', 'homeassistant/camera/glimpser_porch_motion_snapshot_n1/config', '{"name'],
      ['availability', 'glimpser/porch/availability', 'online'],
      ['state', 'glimpser/porch/motion', 'ON'],
    ]);
    assert.ok(birth.every((m) => m.retain === true && m.qos === 1));
  });

  it('announces nothing without a stream name or with discovery off, and follows a learned name', function () {
    const p = new HaPublisher(OPTS);
    assert.deepEqual(p.announce(false, 'deploy'), []);
    assert.equal(p.announced, false);
    p.stream = 'garden';
    assert.equal(p.announce(false, 'deploy')[0].topic, 'homeassistant/binary_sensor/glimpser_garden_motion_n1/config');
    p.stream = 'yard';
    assert.equal(p.announced, false, 'a new name needs its own discovery');
    const off = new HaPublisher({ ...OPTS, discovery: false }, 'porch');
    assert.deepEqual(off.announce(false, 'deploy'), []);
    assert.deepEqual(off.setOnline(true), []);
    const noCamera = new HaPublisher({ ...OPTS, cameraEntity: false }, 'porch');
    assert.deepEqual(noCamera.announce(false, 'deploy').map((m) => m.kind), ['discovery', 'state']);
  });

  it('a start: state with the details, attributes and the snapshot of a JPEG taken at or after it', function () {
    const p = new HaPublisher({ ...OPTS, attachImage: true }, 'porch');
    assert.deepEqual(p.jpeg(JPEG_A, 5000), [], 'no snapshot awaited');
    const msgs = p.event({ kind: 'start', time: 5000 }, result(), 0.123456, 99999);
    const details = {
      score: 0.1235,
      changedArea: 321,
      regions: { door: { motion: true, score: 0.2346, changedArea: 300 }, path: { motion: false, score: 0.01, changedArea: 21 } },
      bbox: { x: 0.1111, y: 0.2, w: 0.3333, h: 0.25 },
      frameTime: 5000,
      event: { startedAt: 5000 },
    };
    assert.deepEqual(msgs, [
      { topic: 'glimpser/porch/motion', payload: 'ON', retain: true, qos: 1, kind: 'motion', stream: 'porch', ...details, image: JPEG_A },
      {
        topic: 'glimpser/porch/motion/attributes',
        payload: JSON.stringify({ score: 0.1235, changed_area: 321, regions: details.regions, bbox: details.bbox, event: { startedAt: 5000 } }),
        retain: true,
        qos: 1,
        kind: 'attributes',
        stream: 'porch',
      },
      { topic: 'glimpser/porch/snapshot', payload: JPEG_A, retain: true, qos: 1, kind: 'snapshot', stream: 'porch' },
    ]);
  });

  it('a start before a fresh JPEG: the snapshot follows with the first JPEG of the event, or the newest after the wait', function () {
    const p = new HaPublisher({ ...OPTS, snapshotWaitMs: 3000 }, 'porch');
    p.jpeg(JPEG_A, 4000);
    const msgs = p.event({ kind: 'start', time: 5000 }, result(), 0.1, 10000);
    assert.deepEqual(msgs.map((m) => m.kind), ['motion', 'attributes'], 'the JPEG is older than the event');
    assert.equal(msgs[0].image, undefined, 'attachImage is off');
    assert.deepEqual(p.jpeg(JPEG_A, 4900), [], 'still older than the event');
    assert.deepEqual(p.jpeg(JPEG_B, 5100), [{ topic: 'glimpser/porch/snapshot', payload: JPEG_B, retain: true, qos: 1, kind: 'snapshot', stream: 'porch' }]);
    assert.deepEqual(p.jpeg(JPEG_B, 5200), [], 'one snapshot per event');

    p.event({ kind: 'start', time: 20000 }, result(), 0.1, 30000);
    assert.deepEqual(p.tick(32999), [], 'still waiting');
    assert.deepEqual(p.tick(33000), [{ topic: 'glimpser/porch/snapshot', payload: JPEG_B, retain: true, qos: 1, kind: 'snapshot', stream: 'porch' }]);
    assert.deepEqual(p.tick(40000), []);
  });

  it('an end: OFF with the peak score and why, attributes, no snapshot', function () {
    const p = new HaPublisher(OPTS, 'porch');
    const msgs = p.event({ kind: 'end', time: 9000, reason: 'quiet', startedAt: 5000 }, result({ motion: false, score: 0.001 }), 0.42424242, 9000);
    assert.deepEqual(msgs[0], {
      topic: 'glimpser/porch/motion',
      payload: 'OFF',
      retain: true,
      qos: 1,
      kind: 'motion',
      stream: 'porch',
      score: 0.4242,
      changedArea: 0,
      regions: { door: { motion: false, score: 0.2346, changedArea: 300 }, path: { motion: false, score: 0.01, changedArea: 21 } },
      bbox: null,
      frameTime: 9000,
      event: { reason: 'quiet', startedAt: 5000, peakScore: 0.4242 },
    });
    assert.deepEqual(msgs.map((m) => m.kind), ['motion', 'attributes']);
    assert.deepEqual(JSON.parse(msgs[1].payload).event, { reason: 'quiet', startedAt: 5000, peakScore: 0.4242 });
  });

  it('without a stream name the state goes to <prefix>/camera/motion and nothing else', function () {
    const p = new HaPublisher(OPTS);
    const msgs = p.event({ kind: 'start', time: 1 }, result(), 0.1, 1);
    assert.deepEqual(msgs.map((m) => [m.kind, m.topic, m.stream]), [['motion', 'glimpser/camera/motion', '']]);
  });

  it('removed: the event under way ends and the sensor goes offline', function () {
    const p = new HaPublisher(OPTS, 'porch');
    p.setOnline(true);
    const msgs = p.removed({ kind: 'end', time: 7000, reason: 'reset', startedAt: 6000 }, 0.5, 7000);
    assert.deepEqual(msgs.map((m) => [m.kind, m.payload]), [['motion', 'OFF'], ['attributes', msgs[1].payload], ['availability', 'offline']]);
    assert.deepEqual(msgs[0].event, { reason: 'reset', startedAt: 6000, peakScore: 0.5 });
    assert.deepEqual(new HaPublisher(OPTS, 'porch').removed(null, 0, 1).map((m) => [m.kind, m.payload]), [['availability', 'offline']]);
  });
});

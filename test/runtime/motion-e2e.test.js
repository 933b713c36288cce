'use strict';
// End to end with a real broker: glimpser-ffmpeg-source (a lavfi camera with a box shown from 3 s to 5 s)
// -> glimpser-motion-detect -> Node-RED's own `mqtt out` (+ `mqtt-broker` config) -> broker -> an `mqtt` client.
// The broker is aedes in-process on an ephemeral port, or the one named by MQTT_URL (CI: Debian's Mosquitto).
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { testHelper, useRuntime, requireFromNodeRed } = require('../helpers/node-red');
const helper = testHelper();
const mqtt = require('mqtt');
const poolNode = require('../../nodes/process-pool.js');
const sourceNode = require('../../nodes/ffmpeg-source.js');
const motionNode = require('../../nodes/motion-detect.js');
const mqttNode = requireFromNodeRed('@node-red/nodes/core/network/10-mqtt.js');
const { startBroker } = require('../helpers/broker');
const synth = require('../helpers/synth.js');
const { until, waitFor } = require('../helpers/procs');

const CAMERA = "color=c=0x808080:s=320x240:r=10,drawbox=x=100:y=90:w=50:h=50:color=black:t=fill:enable='between(t,3,5)',noise=alls=6:allf=t";

describe(`motion end to end: ffmpeg-source -> motion-detect -> mqtt out -> ${process.env.MQTT_URL ? 'MQTT_URL broker' : 'aedes'} -> mqtt client`, function () {
  this.timeout(45000);
  let broker;
  let client;

  before(async function () {
    broker = await startBroker();
  });
  after(async function () {
    if (broker) await broker.close();
  });
  useRuntime(helper);
  afterEach(async function () {
    if (client) await client.endAsync(true);
    client = undefined;
  });

  it('a client receives the discovery config, availability online, then ON and OFF', async function () {
    // A unique stream name: a shared broker may hold retained messages from other runs.
    const stream = `e2e_${crypto.randomBytes(3).toString('hex')}`;
    client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    const got = [];
    client.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), raw: payload, retain: packet.retain, at: Date.now() }));
    await client.subscribeAsync([`glimpser/${stream}/#`, `homeassistant/binary_sensor/glimpser_${stream}_motion_md/config`,
      `homeassistant/camera/glimpser_${stream}_motion_snapshot_md/config`], { qos: 1 });

    await helper.load([poolNode, sourceNode, motionNode, mqttNode], [
      { id: 'pool', type: 'glimpser-process-pool', idleGrace: 0 },
      { id: 'src', type: 'glimpser-ffmpeg-source', name: stream, pool: 'pool', source: CAMERA, fps: 10, quality: 5, startMode: 'always', wires: [['md']] },
      { id: 'md', type: 'glimpser-motion-detect', quietSeconds: 1, startFrames: 3, discoveryDelay: 1, topicPrefix: 'glimpser', wires: [['mo']] },
      { id: 'mo', type: 'mqtt out', broker: 'b1', topic: '', qos: '', retain: '' },
      { id: 'b1', type: 'mqtt-broker', broker: broker.host, port: String(broker.port), clientid: '', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true },
    ]);

    const states = () => got.filter((m) => m.topic === `glimpser/${stream}/motion`).map((m) => m.payload).join(',');
    await waitFor(() => /ON,OFF$/.test(states()), 30000, 100);
    // The current state (OFF) with discovery at deploy, then the event.
    assert.equal(states(), 'OFF,ON,OFF', JSON.stringify(got.map((m) => [m.topic, String(m.payload).slice(0, 40)])));
    const motion = got.filter((m) => m.topic === `glimpser/${stream}/motion`).slice(1);
    assert.ok(motion.every((m) => m.retain === false), 'live messages arrive unretained to a subscriber that was there');
    // ON about 3 s into the camera (box shown at 3 s), OFF after it left (5 s) plus the 1 s quiet period.
    assert.ok(motion[1].at - motion[0].at >= 1500, `ON lasted ${motion[1].at - motion[0].at} ms`);

    const disc = got.find((m) => m.topic.startsWith('homeassistant/binary_sensor/'));
    assert.ok(disc, 'discovery config received');
    assert.equal(disc.topic, `homeassistant/binary_sensor/glimpser_${stream}_motion_md/config`);
    const cfg = JSON.parse(disc.payload);
    for (const key of ['name', 'unique_id', 'device_class', 'state_topic', 'payload_on', 'payload_off', 'availability', 'json_attributes_topic', 'device']) {
      assert.ok(key in cfg, `discovery has ${key}`);
    }
    assert.equal(cfg.device_class, 'motion');
    assert.equal(cfg.state_topic, `glimpser/${stream}/motion`);
    assert.equal(cfg.availability[0].topic, `glimpser/${stream}/availability`);
    assert.deepEqual([cfg.payload_on, cfg.payload_off], ['ON', 'OFF']);
    assert.ok(Array.isArray(cfg.device.identifiers) && cfg.device.identifiers.length > 0);
    const avail = got.find((m) => m.topic === `glimpser/${stream}/availability`);
    assert.equal(avail && avail.payload, 'online');

    // Attributes for automations, and the event's picture for the MQTT camera entity, as raw JPEG bytes.
    const attrs = got.filter((m) => m.topic === `glimpser/${stream}/motion/attributes`).map((m) => JSON.parse(m.payload));
    assert.ok(attrs.some((a) => a.score > 0 && a.changed_area >= 80 && a.bbox && a.regions), JSON.stringify(attrs));
    const camCfg = got.find((m) => m.topic === `homeassistant/camera/glimpser_${stream}_motion_snapshot_md/config`);
    assert.ok(camCfg, 'camera entity discovery received');
    assert.equal(JSON.parse(camCfg.payload).topic, `glimpser/${stream}/snapshot`);
    const snap = got.find((m) => m.topic === `glimpser/${stream}/snapshot`);
    assert.ok(snap, 'the motion start published a snapshot');
    assert.ok(snap.raw[0] === 0xff && snap.raw[1] === 0xd8 && snap.raw.at(-1) === 0xd9, 'raw JPEG bytes');
    const { default: sharp } = await import('sharp');
    assert.equal((await sharp(snap.raw).metadata()).width, 320);
    assert.ok(snap.at >= motion[0].at, 'taken at or after the motion start');

    // The discovery config is retained: a client that connects later (Home Assistant after a restart) gets it.
    const late = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    try {
      const retained = new Promise((resolve) => late.on('message', (topic, payload, packet) => resolve({ topic, retain: packet.retain, payload: payload.toString() })));
      await late.subscribeAsync(disc.topic, { qos: 1 });
      const r = await Promise.race([retained, new Promise((resolve) => setTimeout(() => resolve(null), 3000))]);
      assert.ok(r && r.retain && JSON.parse(r.payload).unique_id === cfg.unique_id, 'retained discovery');
      // Leave a shared broker clean.
      for (const t of [disc.topic, camCfg.topic, `glimpser/${stream}/availability`, `glimpser/${stream}/motion`, `glimpser/${stream}/motion/attributes`, `glimpser/${stream}/snapshot`]) {
        await late.publishAsync(t, '', { retain: true, qos: 1 });
      }
    } finally {
      await late.endAsync(true);
    }
  });
  // An event under way when its node is deleted or changed: Home Assistant must not keep the sensor ON. Fed gray
  // frames as an ffmpeg-source sends them (a box from frame 30), so ON comes at a known point.
  describe('an event cut by a deploy ends with OFF at the broker', function () {
    let boxGray;
    before(async function () {
      boxGray = await synth.grayFrames({ box: { n0: 30, n1: 99 } }, 60);
    });
    const grayMsg = (stream, data, n, base) => ({
      topic: stream,
      payload: Buffer.from([0xff, 0xd8, 0xff, 0xd9]),
      frame: { stream, seq: n + 1, time: base + n * 100, size: 4, jpeg: true, gray: ['240x180'] },
      gray: { '240x180': { data, width: 240, height: 180, seq: n + 1, time: base + n * 100 } },
    });

    for (const [what, type] of [['deleted, "Modified nodes" deploy', 'nodes'], ['deleted, full deploy', 'full'], ['changed, full deploy', 'full']]) {
      it(`${what}: OFF${what.startsWith('deleted') ? ' and offline' : ''}`, async function () {
        const stream = `cut_${crypto.randomBytes(3).toString('hex')}`;
        client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
        const got = [];
        client.on('message', (topic, payload) => got.push({ topic, payload: payload.toString() }));
        await client.subscribeAsync(`glimpser/${stream}/#`, { qos: 1 });
        const broker1 = { id: 'b1', type: 'mqtt-broker', broker: broker.host, port: String(broker.port), clientid: '', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true };
        const out = { id: 'mo', type: 'mqtt out', broker: 'b1', topic: '', qos: '1', retain: '' };
        const md = { id: 'md', type: 'glimpser-motion-detect', stream, quietSeconds: 30, staleSeconds: 60, startFrames: 3, discoveryDelay: 1, topicPrefix: 'glimpser', wires: [['mo']] };
        await helper.load([motionNode, mqttNode], [md, out, broker1]);
        const last = (suffix) => got.filter((m) => m.topic === `glimpser/${stream}/${suffix}`).map((m) => m.payload).at(-1);
        const wait = (pred, label) => until(pred, () => `${label}; got ${JSON.stringify(got)}`, 10000);
        await wait(() => last('motion') === 'OFF', 'the state at deploy');
        const node = helper.getNode('md');
        const base = Date.now() - 6000;
        boxGray.forEach((f, n) => node.receive(grayMsg(stream, f, n, base)));
        await wait(() => last('motion') === 'ON' && last('availability') === 'online', 'ON');
        const next = what.startsWith('deleted') ? [out, broker1] : [{ ...md, quietSeconds: 20 }, out, broker1];
        await helper.setFlows(next, type);
        await wait(() => last('motion') === 'OFF', 'OFF after the deploy');
        if (what.startsWith('deleted')) await wait(() => last('availability') === 'offline', 'offline after the deploy');
        else assert.equal(last('availability'), 'online', 'a changed node stays available');
        for (const t of ['availability', 'motion', 'motion/attributes', 'snapshot']) await client.publishAsync(`glimpser/${stream}/${t}`, '', { retain: true, qos: 1 });
        await client.publishAsync(`homeassistant/binary_sensor/glimpser_${stream}_motion_md/config`, '', { retain: true, qos: 1 });
        await client.publishAsync(`homeassistant/camera/glimpser_${stream}_motion_snapshot_md/config`, '', { retain: true, qos: 1 });
      });
    }
  });
});

'use strict';
// End to end with a real broker: glimpser-ffmpeg-source (a lavfi camera with a box shown from 3 s to 5 s)
// -> glimpser-motion-detect -> Node-RED's own `mqtt out` (+ `mqtt-broker` config) -> broker -> an `mqtt` client.
// The broker is aedes in-process on an ephemeral port, or the one named by MQTT_URL (CI: Debian's Mosquitto).
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const helper = require('./helpers/node-red').testHelper();
const mqtt = require('mqtt');
const poolNode = require('../nodes/process-pool.js');
const sourceNode = require('../nodes/ffmpeg-source.js');
const motionNode = require('../nodes/motion-detect.js');
const mqttNode = require('./helpers/node-red').requireFromNodeRed('@node-red/nodes/core/network/10-mqtt.js');
const { startBroker } = require('./helpers/broker');

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
  beforeEach(function (done) { helper.startServer(done); });
  afterEach(async function () {
    await helper.unload();
    await new Promise((r) => helper.stopServer(r));
    if (client) await client.endAsync(true);
    client = undefined;
  });

  it('a client receives the discovery config, availability online, then ON and OFF', async function () {
    // A unique stream name: a shared broker may hold retained messages from other runs.
    const stream = `e2e_${crypto.randomBytes(3).toString('hex')}`;
    client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    const got = [];
    client.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain, at: Date.now() }));
    await client.subscribeAsync([`glimpser/${stream}/#`, `homeassistant/binary_sensor/glimpser_${stream}_motion_md/config`], { qos: 1 });

    await helper.load([poolNode, sourceNode, motionNode, mqttNode], [
      { id: 'pool', type: 'glimpser-process-pool', idleGrace: 0 },
      { id: 'src', type: 'glimpser-ffmpeg-source', name: stream, pool: 'pool', source: CAMERA, fps: 10, quality: 5, startMode: 'always', wires: [['md']] },
      { id: 'md', type: 'glimpser-motion-detect', quietSeconds: 1, startFrames: 3, discoveryDelay: 1, topicPrefix: 'glimpser', wires: [['mo']] },
      { id: 'mo', type: 'mqtt out', broker: 'b1', topic: '', qos: '', retain: '' },
      { id: 'b1', type: 'mqtt-broker', broker: broker.host, port: String(broker.port), clientid: '', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true },
    ]);

    const deadline = Date.now() + 30000;
    const states = () => got.filter((m) => m.topic === `glimpser/${stream}/motion`).map((m) => m.payload).join(',');
    while (Date.now() < deadline && !/ON,OFF$/.test(states())) {
      await new Promise((r) => setTimeout(r, 100));
    }
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

    // The discovery config is retained: a client that connects later (Home Assistant after a restart) gets it.
    const late = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    try {
      const retained = new Promise((resolve) => late.on('message', (topic, payload, packet) => resolve({ topic, retain: packet.retain, payload: payload.toString() })));
      await late.subscribeAsync(disc.topic, { qos: 1 });
      const r = await Promise.race([retained, new Promise((resolve) => setTimeout(() => resolve(null), 3000))]);
      assert.ok(r && r.retain && JSON.parse(r.payload).unique_id === cfg.unique_id, 'retained discovery');
      // Leave a shared broker clean.
      await late.publishAsync(disc.topic, '', { retain: true, qos: 1 });
      await late.publishAsync(`glimpser/${stream}/availability`, '', { retain: true, qos: 1 });
    } finally {
      await late.endAsync(true);
    }
  });
});

'use strict';
// examples/stream-health-notify.json as a user imports it, in a real Node-RED runtime with Node-RED's own switch,
// change, debug and mqtt nodes: the camera whose file is missing turns failed and a Home Assistant notification
// payload reaches an MQTT client; a stream that comes back sends the one that replaces it.
const assert = require('node:assert/strict');
const net = require('node:net');
const mqtt = require('mqtt');
const helper = require('../helpers/node-red').testHelper();
const { requireFromNodeRed } = require('../helpers/node-red');
const flow = require('../../examples/stream-health-notify.json');

const nodes = [
  require('../../nodes/process-pool.js'),
  require('../../nodes/ffmpeg-source.js'),
  require('../../nodes/stream-health.js'),
  require('../../nodes/metrics.js'),
  requireFromNodeRed('@node-red/nodes/core/function/10-switch.js'),
  requireFromNodeRed('@node-red/nodes/core/function/15-change.js'),
  requireFromNodeRed('@node-red/nodes/core/common/21-debug.js'),
  requireFromNodeRed('@node-red/nodes/core/network/10-mqtt.js'),
];

describe('example flow: stream-health → Home Assistant notification over MQTT', function () {
  this.timeout(45000);
  let broker;
  let server;
  let client;
  before(async function () {
    const { Aedes } = await import('aedes');
    broker = await Aedes.createBroker();
    server = net.createServer(broker.handle);
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
  });
  after(async function () {
    await new Promise((r) => broker.close(() => server.close(() => r())));
  });
  beforeEach(function (done) {
    helper.startServer(done);
  });
  afterEach(async function () {
    await helper.unload();
    await new Promise((r) => helper.stopServer(r));
    if (client) await client.endAsync(true);
  });

  it('the missing camera file becomes a "failed" notification; a recovery replaces it', async function () {
    const { port } = server.address();
    const imported = flow.map((n) => (n.type === 'mqtt-broker' ? { ...n, port: String(port) } : n));
    client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    const got = [];
    client.on('message', (topic, payload) => got.push({ topic, body: JSON.parse(payload.toString()) }));
    await client.subscribeAsync('glimpser/notify');
    await helper.load(nodes, imported);
    const wait = async (pred, what) => {
      const end = Date.now() + 20000;
      while (!got.some(pred)) {
        if (Date.now() > end) throw new Error(`no ${what}: ${JSON.stringify(got)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return got.find(pred);
    };
    const failed = await wait((m) => m.body.title === 'Camera garage failed', 'failed notification');
    assert.match(failed.body.message, /garage-missing\.mp4/);
    assert.deepEqual(failed.body.data, { tag: 'glimpser-garage', group: 'cameras' });
    assert.equal(got.some((m) => /garden/.test(m.body.title)), false, 'the healthy camera sends nothing');

    // A state change as stream-health sends it when a stream comes back.
    const sw = flow.find((n) => n.type === 'switch');
    helper.getNode(sw.id).receive({ topic: 'garage', payload: { stream: 'garage', pool: 'default', state: 'healthy', previous: 'recovering', reason: null, retries: 0, time: Date.now() } });
    const back = await wait((m) => m.body.title === 'Camera garage is back', 'recovery notification');
    assert.deepEqual(back.body, { title: 'Camera garage is back', message: 'Healthy again', data: { tag: 'glimpser-garage', group: 'cameras' } });
    // A healthy camera that merely started sends nothing.
    helper.getNode(sw.id).receive({ topic: 'garden', payload: { stream: 'garden', pool: 'default', state: 'healthy', previous: 'starting', reason: null, retries: 0, time: Date.now() } });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(got.filter((m) => /garden/.test(m.body.title)).length, 0);
  });
});

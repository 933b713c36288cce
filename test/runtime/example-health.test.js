'use strict';
// examples/stream-health-notify.json as a user imports it, in a real Node-RED runtime with Node-RED's own switch,
// change, debug and mqtt nodes: the camera whose file is missing turns failed and a Home Assistant notification
// payload reaches an MQTT client; a stream that comes back sends the one that replaces it.
const assert = require('node:assert/strict');
const net = require('node:net');
const mqtt = require('mqtt');
const { testHelper, useRuntime, requireFromNodeRed } = require('../helpers/node-red');
const helper = testHelper();
const fs = require('node:fs');
const path = require('node:path');
const flow = require('../../examples/stream-health-notify.json');
const { startNodeRed, request } = require('../helpers/node-red-process');
const { until, waitFor } = require('../helpers/procs');

const nodes = [
  require('../../nodes/process-pool.js'),
  require('../../nodes/ffmpeg-source.js'),
  require('../../nodes/stream-health.js'),
  require('../../nodes/metrics.js'),
  requireFromNodeRed('@node-red/nodes/core/function/10-switch.js'),
  requireFromNodeRed('@node-red/nodes/core/function/15-change.js'),
  requireFromNodeRed('@node-red/nodes/core/common/21-debug.js'),
  requireFromNodeRed('@node-red/nodes/core/common/90-comment.js'),
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
  useRuntime(helper);
  afterEach(async function () {
    if (client) await client.endAsync(true);
  });

  it('the missing camera file becomes a "failed" notification; a recovery replaces it', async function () {
    const { port } = server.address();
    // The "Home Assistant broker" given this test's broker, as a user outside Home Assistant would.
    const imported = flow.map((n) => (n.type === 'mqtt-broker' ? { ...n, broker: '127.0.0.1', port: String(port) } : n));
    client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    const got = [];
    client.on('message', (topic, payload) => got.push({ topic, body: JSON.parse(payload.toString()) }));
    await client.subscribeAsync('glimpser/notify');
    await helper.load(nodes, imported);
    const wait = (pred, what) => until(() => got.find(pred), () => `${what}; got ${JSON.stringify(got)}`, 20000);
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

describe('every example, imported together into a real node-red and deployed', function () {
  this.timeout(90000);
  let broker;
  let server;
  let nr;
  after(async function () {
    await nr?.stop();
    if (broker) await new Promise((r) => broker.close(() => server.close(() => r())));
  });

  it('loads every node, refuses none, and serves each camera healthy (the example\'s missing garage file aside)', async function () {
    const { Aedes } = await import('aedes');
    broker = await Aedes.createBroker();
    server = net.createServer(broker.handle);
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const dir = path.join(__dirname, '..', '..', 'examples');
    const seen = new Set();
    const all = [];
    for (const f of fs.readdirSync(dir)) {
      for (const n of JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))) {
        // The one broker node every MQTT example shares comes once; it is given this test's broker.
        if (seen.has(n.id)) continue;
        seen.add(n.id);
        all.push(n.type === 'mqtt-broker' ? { ...n, broker: '127.0.0.1', port: String(server.address().port) } : n);
      }
    }
    nr = await startNodeRed(all);
    const base = `http://127.0.0.1:${nr.port}`;
    const cameras = all.filter((n) => n.type === 'glimpser-ffmpeg-source' && n.startMode === 'always' && n.name !== 'garage').map((n) => n.name);
    assert.ok(cameras.length >= 4, cameras.join());
    const health = await waitFor(async () => {
      const r = await request(nr.port, 'GET', '/glimpser/health');
      // Until the flows have started the route is not there yet (Node-RED's own 404 page).
      if (r.status === 404) return undefined;
      const streams = JSON.parse(r.body).streams;
      return cameras.every((c) => streams.some((s) => s.stream === c && s.state === 'healthy')) ? streams : undefined;
    }, 45000, 250);
    assert.ok(health, `healthy: ${cameras.join()}\n${nr.output().slice(-3000)}`);
    assert.equal(health.find((s) => s.stream === 'garage')?.state, 'failed');
    // An on-demand camera starts for its first viewer.
    const still = await waitFor(async () => {
      const r = await request(nr.port, 'GET', '/glimpser/driveway.jpg');
      return r.status === 200 ? r : undefined;
    }, 20000, 250);
    assert.ok(still, 'the on-demand camera answers its still');
    // Nothing refused or missing: the only errors are the garage camera's missing file, and the second metrics node
    // (the demo and the health example each bring one; the editor marks the second, and says why).
    const errors = nr.output().split('\n').filter((l) => /\[error\]|Waiting for missing types/.test(l) && !/garage/.test(l));
    // The node holding the path is named as the user knows it, never by its id.
    assert.ok(errors.length > 0 && errors.every((l) => /\[glimpser-metrics:metrics\] path \/glimpser\/metrics is already served by metrics "[^"]+"/.test(l)), errors.join('\n'));
    const metrics = await request(nr.port, 'GET', '/glimpser/metrics');
    assert.equal(metrics.status, 200);
    assert.match(base, /^http/);
  });
});

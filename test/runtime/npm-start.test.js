'use strict';
// `npm start` as a user runs it: the real start script, a real node-red process, the demo flow, the embedded broker.
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const mqtt = require('mqtt');
const { childrenOf, isAlive, waitFor } = require('../helpers/procs');

const root = path.resolve(__dirname, '..', '..');

function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

describe('npm start (demo)', function () {
  this.timeout(90000);
  let child;
  let userDir;
  let client;
  let output = '';

  /** Runs the start script as `npm start` does, on free ports, and waits until it has printed its URLs. */
  async function startDemo() {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpser-start-'));
    const env = { ...process.env, GLIMPSER_USER_DIR: userDir, PORT: '0', GLIMPSER_MQTT_PORT: '0' };
    delete env.MQTT_URL;
    // Its own process group, so a failed test can kill the script, Node-RED and FFmpeg together.
    child = spawn(process.execPath, [path.join(root, 'scripts', 'start.js')], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    await waitFor(() => /MQTT broker:/.test(output), 45000, 100);
    return output;
  }
  afterEach(async function () {
    client?.end(true);
    if (child && child.exitCode === null && child.signalCode === null) {
      // The whole process group: the start script, Node-RED under it and FFmpeg under that.
      process.kill(-child.pid, 'SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('serves the demo camera, publishes motion and discovery to the embedded broker, and stops cleanly', async function () {
    const out = await startDemo();
    const still = /Demo still image:\s+(\S+)/.exec(out)?.[1];
    const stream = /Demo stream:\s+(\S+)/.exec(out)?.[1];
    const broker = /MQTT broker:\s+(mqtt:\/\/[^\s;]+)/.exec(out)?.[1];
    assert.ok(still && stream && broker, out);

    client = mqtt.connect(broker);
    const seen = [];
    client.on('message', (topic, payload, packet) => seen.push({ topic, payload: payload.toString(), retain: packet.retain }));
    await new Promise((resolve, reject) => {
      client.once('connect', () => client.subscribe(['glimpser/#', 'homeassistant/#'], (err) => (err ? reject(err) : resolve())));
      client.once('error', reject);
    });

    const res = await waitFor(async () => {
      const r = await get(still);
      return r.status === 200 ? r : undefined;
    }, 20000, 250);
    assert.equal(res.headers['content-type'], 'image/jpeg');
    assert.equal(res.body[0], 0xff);
    assert.equal(res.body[1], 0xd8);

    await waitFor(() => seen.some((m) => m.topic === 'glimpser/demo/motion' && m.payload === 'ON'), 30000, 100);
    assert.ok(seen.some((m) => m.topic === 'glimpser/demo/motion' && m.payload === 'ON'), JSON.stringify(seen));
    const config = seen.find((m) => /^homeassistant\/binary_sensor\/.+\/config$/.test(m.topic));
    assert.ok(config, 'discovery config published');
    assert.equal(JSON.parse(config.payload).device_class, 'motion');
    // The bridge availability every entity follows: the broker node's birth message, retained.
    assert.ok(JSON.parse(config.payload).availability.some((a) => a.topic === 'glimpser/status'));
    const retained = await new Promise((resolve, reject) => {
      const probe = mqtt.connect(broker);
      const timer = setTimeout(() => {
        probe.end(true);
        reject(new Error('nothing retained on glimpser/status'));
      }, 10000);
      probe.once('error', reject);
      probe.once('connect', () => probe.subscribe('glimpser/status'));
      probe.once('message', (topic, payload, packet) => {
        clearTimeout(timer);
        probe.end(true);
        resolve({ payload: payload.toString(), retain: packet.retain });
      });
    });
    assert.deepEqual(retained, { payload: 'online', retain: true });

    const redPid = childrenOf(child.pid, /node-red|red\.js/)[0];
    assert.ok(redPid, 'node-red runs as a child of the start script');
    const ffmpegs = childrenOf(redPid);
    assert.equal(ffmpegs.length, 1, 'one FFmpeg for the demo camera (MJPEG and motion share it)');
    child.kill('SIGINT');
    const code = await new Promise((r) => child.once('exit', (c) => r(c)));
    assert.equal(code, 0, output.slice(-2000));
    // Node-RED said goodbye through the broker node's close message before the broker went down.
    assert.ok(seen.some((m) => m.topic === 'glimpser/status' && m.payload === 'offline'), JSON.stringify(seen.filter((m) => m.topic === 'glimpser/status')));
    assert.equal(isAlive(redPid), false);
    for (const p of ffmpegs) assert.equal(isAlive(p), false, 'FFmpeg stopped with Node-RED');
  });
  it('Node-RED and its FFmpeg stop by themselves when the start script is killed with SIGKILL', async function () {
    const out = await startDemo();
    const redPid = childrenOf(child.pid, /node-red|red\.js/)[0];
    assert.ok(redPid, out);
    await waitFor(() => childrenOf(redPid).length === 1, 15000);
    const ffmpegs = childrenOf(redPid);
    assert.equal(ffmpegs.length, 1);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await waitFor(() => !isAlive(redPid) && ffmpegs.every((p) => !isAlive(p)), 15000, 100);
    assert.equal(isAlive(redPid), false, 'Node-RED outlived the start script');
    for (const p of ffmpegs) assert.equal(isAlive(p), false, 'FFmpeg outlived the start script');
  });
});

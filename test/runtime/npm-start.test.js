'use strict';
// `npm start` as a user runs it: the real start script, a real node-red process, the demo flow, the embedded broker.
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const mqtt = require('mqtt');
const sharp = require('sharp');
const { childrenOf, isAlive, waitFor } = require('../helpers/procs');
const { requireFromNodeRed } = require('../helpers/node-red');
const { openStream, nextParts } = require('../helpers/mjpeg-client');
const demoFlow = require('../../examples/demo.json');

/** What the editor's debug tab shows: Node-RED's comms channel, subscribed to the debug topic. */
function debugTab(editorUrl) {
  const WebSocket = requireFromNodeRed('ws');
  const ws = new WebSocket(`${editorUrl.replace(/^http/, 'ws')}comms`);
  const messages = [];
  ws.on('open', () => ws.send(JSON.stringify({ subscribe: 'debug' })));
  ws.on('message', (data) => {
    for (const m of [].concat(JSON.parse(data.toString()))) if (m.topic === 'debug') messages.push(m.data);
  });
  ws.on('error', () => {});
  return { messages, close: () => ws.terminate() };
}

/** A picture's pixels, small and gray, to compare frames. */
async function pixels(jpeg) {
  return sharp(jpeg).resize(128, 72, { fit: 'fill' }).grayscale().raw().toBuffer();
}
function meanDiff(a, b) {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

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
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
    userDir = undefined;
    child = undefined;
  });

  it('the demo is every node of the palette, each with a comment saying what to look at', function () {
    const types = new Set(demoFlow.map((n) => n.type));
    const palette = Object.keys(require('../../package.json')['node-red'].nodes).filter((t) => t !== 'glimpser-viewer-page');
    assert.deepEqual(palette.filter((t) => !types.has(t)), [], 'node types missing from the demo');
    const comments = demoFlow.filter((n) => n.type === 'comment').map((n) => n.name);
    for (const word of ['camera', 'hardware decoding', 'mjpeg out', 'motion', 'stream health', 'metrics', 'MQTT']) {
      assert.ok(comments.some((c) => c.startsWith(word) || c.includes(` ${word}`)), `a comment about ${word}: ${comments.join(' | ')}`);
    }
    for (const c of comments) assert.ok(c.length <= 130, `one line: ${c}`);
    assert.equal(demoFlow.find((n) => n.type === 'glimpser-ffmpeg-source').hwaccel, demoFlow.find((n) => n.type === 'glimpser-hwaccel-config' && n.mode === 'auto')?.id, 'the camera decodes with hardware decoding on auto');
    const health = demoFlow.find((n) => n.type === 'glimpser-stream-health');
    assert.ok(health.wires.flat().some((id) => demoFlow.find((n) => n.id === id)?.type === 'debug'), 'stream health feeds a debug node');
  });

  it('serves the demo camera, publishes motion and discovery to the embedded broker, and stops cleanly', async function () {
    const out = await startDemo();
    const still = /Demo still image:\s+(\S+)/.exec(out)?.[1];
    const stream = /Demo stream:\s+(\S+)/.exec(out)?.[1];
    const broker = /MQTT broker:\s+(mqtt:\/\/[^\s;]+)/.exec(out)?.[1];
    const editor = /Node-RED editor:\s+(\S+)/.exec(out)?.[1];
    const viewer = /Viewer page:\s+(\S+)/.exec(out)?.[1];
    const metrics = /Metrics:\s+(\S+)/.exec(out)?.[1];
    const health = /Health:\s+(\S+)/.exec(out)?.[1];
    assert.ok(still && stream && broker && editor && viewer && metrics && health, out);
    const debug = debugTab(editor);

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

    // The white box moves: consecutive pictures differ while it crosses (it stood still with drawbox, FFmpeg 5.1).
    const live = await openStream(stream);
    let moving = 0;
    try {
      let prev;
      const until = Date.now() + 25000;
      while (moving < 5 && Date.now() < until) {
        const [part] = await nextParts(live, 1, 10000);
        if (part.placeholder) continue;
        const px = await pixels(part);
        moving = prev && meanDiff(prev, px) > 0.5 ? moving + 1 : 0;
        prev = px;
      }
    } finally {
      live.close();
    }
    assert.equal(moving, 5, 'five pictures in a row, each different from the one before');

    // The page, the metrics and the health endpoint the banner names.
    const page = await get(viewer);
    assert.equal(page.status, 200);
    assert.match(page.body.toString(), /<main id="grid"/);
    const prom = await get(metrics);
    assert.equal(prom.status, 200);
    assert.match(prom.body.toString(), /^glimpser_camera_fps\{stream="demo",pool="demo pool"\} /m);
    const state = await get(health);
    assert.ok([200, 503].includes(state.status), `health ${state.status}`);
    assert.equal(JSON.parse(state.body).streams.find((s) => s.stream === 'demo')?.state, 'healthy');
    // Stream health feeds the debug tab: a state change and the figures, with the decoding in use.
    await waitFor(() => debug.messages.some((m) => m.name === 'camera health' && /"acceleration"/.test(m.msg)), 20000, 100);
    const figures = debug.messages.find((m) => m.name === 'camera health' && /"acceleration"/.test(m.msg));
    assert.ok(figures, `figures in the debug tab: ${JSON.stringify(debug.messages.map((m) => m.name))}`);
    if (!fs.existsSync('/dev/dri') && !fs.existsSync('/dev/nvidia0')) {
      assert.equal(JSON.parse(figures.msg).payload.acceleration, 'software');
      // Hardware decoding on auto says that it falls back, and why.
      assert.match(output, /demo: no hardware decoding method passed the probe: decoding in software/);
    }
    debug.close();
    // Our log lines say they are ours.
    assert.match(output, /\[glimpser\] viewer page: \/glimpser\//);

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

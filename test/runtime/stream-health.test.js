'use strict';
// glimpser-stream-health in a real Node-RED runtime (node-red-node-test-helper) watching streams of real FFmpeg
// processes: state changes, figures, a SIGKILLed FFmpeg, a missing file, on-demand streams left alone.
const assert = require('node:assert/strict');
const http = require('node:http');
const { testHelper, useRuntime } = require('../helpers/node-red');
const helper = testHelper();
const { withCatalogs } = require('../helpers/i18n');
const [poolNode, sourceNode, healthNode] = withCatalogs([
  require('../../nodes/process-pool.js'),
  require('../../nodes/ffmpeg-source.js'),
  require('../../nodes/stream-health.js'),
]);
const { until, delay, isAlive } = require('../helpers/procs');
const { callsOf, lastStatus } = require('../helpers/node-status');

const TESTSRC = 'testsrc2=size=160x120:rate=10';

function flow({ pool = {}, source = {}, health = {}, extra = [] } = {}) {
  return [
    { id: 'pool', type: 'glimpser-process-pool', name: 'cams', idleGrace: 1, ...pool },
    { id: 'src', type: 'glimpser-ffmpeg-source', name: 'front', pool: 'pool', source: TESTSRC, fps: 10, quality: 8, startMode: 'always', wires: [[]], ...source },
    { id: 'health', type: 'glimpser-stream-health', scope: 'stream', stream: 'front', interval: 1, wires: [['states'], ['figures']], ...health },
    { id: 'states', type: 'helper' },
    { id: 'figures', type: 'helper' },
    ...extra,
  ];
}


/** Messages arriving at a helper node, each with the time it arrived. */
function collect(id) {
  const got = [];
  helper.getNode(id).on('input', (msg) => got.push({ msg, at: performance.now() }));
  return got;
}

describe('stream-health node (real FFmpeg, real Node-RED)', function () {
  this.timeout(60000);
  useRuntime(helper);

  async function load(f, credentials) {
    await helper.load([poolNode, sourceNode, healthNode], f, credentials);
    return { states: collect('states'), figures: collect('figures'), health: helper.getNode('health') };
  }

  it('sends state changes and figures: fps near the source rate, FFmpeg and its CPU and memory', async function () {
    // A flow node wired to the source takes every frame, so the stream runs at its full rate. A 640x360 picture: /proc
    // counts CPU in 10 ms ticks, and FFmpeg making 160x120 JPEGs used less than one tick in some 1 s intervals (0 %).
    const source = { source: 'testsrc2=size=640x360:rate=10', wires: [['tap']] };
    const { states, figures, health } = await load(flow({ source, extra: [{ id: 'tap', type: 'helper' }] }));
    await until(() => states.some((s) => s.msg.payload.state === 'healthy'), 'healthy');
    const healthy = states.find((s) => s.msg.payload.state === 'healthy').msg;
    assert.equal(healthy.topic, 'front');
    assert.deepEqual(Object.keys(healthy.payload).sort(), ['pool', 'previous', 'reason', 'retries', 'state', 'stream', 'time']);
    assert.equal(healthy.payload.pool, 'cams');
    assert.equal(healthy.payload.previous, 'starting');
    assert.equal(healthy.payload.retries, 0);
    assert.ok(Math.abs(healthy.payload.time - Date.now()) < 10000);
    // The fps meter averages the last 5 s: after 6 s of frames it reads the source rate.
    await delay(6000);
    await until(() => figures.length >= 2, 'two figure reports');
    const f = figures.at(-1).msg.payload;
    assert.equal(f.stream, 'front');
    assert.equal(f.state, 'healthy');
    assert.ok(f.fps >= 8 && f.fps <= 11, `fps ${f.fps}`);
    assert.equal(f.expectedFps, 10);
    assert.equal(f.targetFps, 10);
    assert.ok(f.frames >= 50, `frames ${f.frames}`);
    assert.ok(f.bytes > f.frames * 1000, `bytes ${f.bytes}`);
    assert.match(f.ffmpeg.version, /^ffmpeg version /);
    assert.equal(f.acceleration, 'software');
    assert.equal(f.pids.length, 1);
    assert.ok(f.memoryBytes > 1e6, `rss ${f.memoryBytes}`);
    assert.ok(f.cpuSeconds > 0, `cpu ${f.cpuSeconds}`);
    assert.ok(f.cpuPercent !== null && f.cpuPercent > 0 && f.cpuPercent < 400, `cpu % ${f.cpuPercent}`);
    assert.ok(f.lastFrameAgeSeconds >= 0 && f.lastFrameAgeSeconds < 2);
    assert.equal(f.viewers, 0);
    assert.deepEqual(f.latencyMs, { count: 0, p50: null, p95: null, p99: null, mean: null });
    const status = lastStatus(health);
    assert.equal(status.fill, 'green');
    assert.match(status.text, /^front: healthy · (8|9|10|11)\.\d fps$/);
  });

  it('FFmpeg SIGKILLed after a healthy run: recovering, then healthy, within 2 s each', async function () {
    // Default pool settings (1 s backoff base): only the immediate restart of a healthy run makes 2 s. A flow node
    // takes every frame, as viewers would: at the low rate (0.5 fps) the new process's first frame comes later.
    const { states } = await load(flow({ pool: { idleGrace: 1 }, source: { wires: [['tap']] }, extra: [{ id: 'tap', type: 'helper' }] }));
    const pool = helper.getNode('pool').pool;
    await until(() => states.some((s) => s.msg.payload.state === 'healthy'), 'healthy');
    // Frames delivered are what earn a restart at once (capture/recovery.ts), not a run of some length: the one
    // process that serves the flow node is the one to kill.
    const front = pool.stream('front');
    await until(() => front.state === 'healthy' && front.snapshot().pids.length === 1 && front.snapshot().outputs.jpegEvery === 1, 'one process at full rate');
    const pid = front.snapshot().pids[0];
    assert.ok(pid, 'FFmpeg runs');
    const killedAt = performance.now();
    const before = states.length;
    process.kill(pid, 'SIGKILL');
    await until(() => states.slice(before).some((s) => s.msg.payload.state === 'healthy'), 'healthy again', 10000);
    const after = states.slice(before).map((s) => ({ ...s.msg.payload, at: s.at }));
    const recovering = after.find((p) => p.state === 'recovering');
    const healthy = after.find((p) => p.state === 'healthy');
    assert.ok(recovering, `states after the kill: ${after.map((p) => p.state).join(', ')}`);
    assert.equal(recovering.previous, 'healthy');
    assert.equal(recovering.retries, 1);
    assert.match(recovering.reason, /retry 1 in 0\.0 s/);
    assert.ok(recovering.at - killedAt < 2000, `recovering ${Math.round(recovering.at - killedAt)} ms after the kill`);
    assert.ok(healthy.at - recovering.at < 2000, `healthy ${Math.round(healthy.at - recovering.at)} ms after recovering`);
    assert.equal(healthy.retries, 0);
    assert.equal(isAlive(pid), false);
  });

  it('a missing file: failed with the reason, and no password anywhere', async function () {
    const secret = 'Pa55-w0rd-xyz';
    const { states, figures, health } = await load(flow({ source: { source: '/nonexistent/glimpser/front.mp4' }, health: { interval: 0 } }), {
      src: { username: 'admin', password: secret },
    });
    await until(() => states.some((s) => s.msg.payload.state === 'failed'), 'failed');
    const failed = states.find((s) => s.msg.payload.state === 'failed').msg.payload;
    assert.match(failed.reason, /No such file or directory|not found/i);
    assert.match(failed.reason, /front\.mp4/);
    health.receive({ payload: 'now' });
    await until(() => figures.length === 1, 'figures on request');
    assert.equal(figures[0].msg.payload.state, 'failed');
    const status = lastStatus(health);
    assert.equal(status.fill, 'red');
    assert.match(status.text, /^front: failed: /);
    const texts = [...states, ...figures].map((s) => JSON.stringify(s.msg)).concat(callsOf(health, 'status').map((c) => JSON.stringify(c.args[0])));
    for (const t of texts) assert.ok(!t.includes(secret), `leaked: ${t}`);
  });

  it('an HTTP camera answering 404 to a URL with credentials: failed, the password removed from the reason', async function () {
    const secret = 'Hunter2-secret';
    const seen = [];
    // FFmpeg sends credentials only when challenged: 401 first, then 404 to the request that carries them.
    const server = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      if (!req.headers.authorization) res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="cam"', 'Content-Type': 'text/plain' });
      else res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('no');
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${server.address().port}/cam.mjpg`;
      const { states, health } = await load(flow({ source: { source: url } }), { src: { username: 'admin', password: secret } });
      await until(() => states.some((s) => s.msg.payload.state === 'failed'), 'failed');
      const failed = states.find((s) => s.msg.payload.state === 'failed').msg.payload;
      assert.match(failed.reason, /404/);
      assert.ok(seen.some((a) => a && Buffer.from(a.split(' ')[1], 'base64').toString().includes(secret)), 'FFmpeg sent the password to the camera');
      for (const t of [...states.map((s) => JSON.stringify(s.msg)), ...callsOf(health, 'status').map((c) => JSON.stringify(c.args[0]))]) {
        assert.ok(!t.includes(secret), `leaked: ${t}`);
      }
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('watches the ffmpeg-source wired into it; frames on the wire are not answered, other messages ask for figures', async function () {
    const f = flow({ source: { lowFps: 1 }, health: { stream: '', interval: 0 } });
    f[1].wires = [['health']];
    const { states, figures, health } = await load(f);
    await until(() => states.some((s) => s.msg.payload.state === 'healthy'), 'healthy');
    assert.equal(states[0].msg.topic, 'front');
    await delay(500);
    assert.equal(figures.length, 0, 'frames from the source asked for nothing');
    health.receive({ payload: 'report' });
    await until(() => figures.length === 1, 'figures');
    assert.equal(figures[0].msg.payload.stream, 'front');
    // Only our own nodes are wired to the source: nothing needs every frame, FFmpeg makes the low rate (lowFps 1).
    assert.equal(figures[0].msg.payload.targetFps, 1);
  });

  it('a camera whose settings were refused (fps 0, an empty source) and a stream no camera defines are failed, with the reason', async function () {
    // Node ids unlike any stream name: without a flow tab, Node-RED takes a property equal to a node id for a reference.
    const watch = (stream) => ({ id: `h-${stream}`, type: 'glimpser-stream-health', scope: 'stream', stream, interval: 0, wires: [[], [`h-${stream}-figures`]] });
    await load([
      { id: 'pool', type: 'glimpser-process-pool', name: 'cams', idleGrace: 1 },
      { id: 'zeroSrc', type: 'glimpser-ffmpeg-source', name: 'zero', pool: 'pool', source: TESTSRC, fps: 0, startMode: 'always', wires: [[]] },
      { id: 'emptySrc', type: 'glimpser-ffmpeg-source', name: 'empty', pool: 'pool', source: '', fps: 10, startMode: 'always', wires: [[]] },
      watch('zero'),
      watch('empty'),
      watch('nowhere'),
      ...['zero', 'empty', 'nowhere'].map((stream) => ({ id: `h-${stream}-figures`, type: 'helper' })),
      { id: 'states', type: 'helper' },
      { id: 'figures', type: 'helper' },
    ]);
    const expect = {
      zero: 'zero: failed: Frame rate (fps) must be a number from 0.1 to 60, got "0"',
      empty: 'empty: failed: No source given: enter an rtsp:// or http:// URL, a file path, a /dev/video device or testsrc:<lavfi spec>',
      // Mid-deploy a consumer may come before its camera: only once the deploy is over is a missing one a fault.
      nowhere: 'nowhere: failed: no source node defines this stream',
    };
    for (const [stream, text] of Object.entries(expect)) {
      const id = `h-${stream}`;
      const node = helper.getNode(id);
      // The editor shows 80 characters under a node: longer texts are cut there (the messages carry them whole).
      const shown = text.length > 80 ? `${text.slice(0, 79)}…` : text;
      await until(() => lastStatus(node)?.text === shown, `${id}: ${shown}`, 5000);
      assert.equal(lastStatus(node).fill, 'red');
      const figures = collect(`${id}-figures`);
      node.receive({ payload: 'now' });
      await until(() => figures.length === 1, `${id} figures`);
      assert.equal(figures[0].msg.payload.state, 'failed');
      assert.equal(figures[0].msg.payload.reason, text.replace(/^\w+: failed: /, ''));
    }
  });

  it('never starts an on-demand stream; reports it idle', async function () {
    const { states, health } = await load(flow({ source: { startMode: 'demand' } }));
    const pool = helper.getNode('pool').pool;
    await delay(1500);
    assert.equal(pool.captures().length, 0, 'no FFmpeg');
    assert.equal(pool.stream('front').state, 'idle');
    assert.equal(states.length, 0);
    assert.equal(lastStatus(health).text, 'front: idle');
  });

  it('every stream of a pool: status counts per state, and streams deployed later are watched', async function () {
    const pooled = (extraSources) =>
      flow({
        health: { scope: 'pool', pool: 'pool', stream: '' },
        extra: extraSources,
      });
    const bad = { id: 'bad', type: 'glimpser-ffmpeg-source', name: 'back', pool: 'pool', source: '/nonexistent/back.mp4', fps: 5, quality: 8, startMode: 'always', wires: [[]] };
    const { states, figures, health } = await load(pooled([bad]));
    await until(() => states.some((s) => s.msg.topic === 'front' && s.msg.payload.state === 'healthy'), 'front healthy');
    await until(() => states.some((s) => s.msg.topic === 'back' && s.msg.payload.state === 'failed'), 'back failed');
    await until(() => lastStatus(health).text === '1 failed, 1 healthy', 'status counts', 5000);
    assert.equal(lastStatus(health).fill, 'red');
    await until(() => figures.length >= 2, 'figures for both');
    assert.deepEqual([...new Set(figures.map((m) => m.msg.topic))].sort(), ['back', 'front']);

    // A third stream on a redeploy is watched by the new node; the removed one is gone from its reports.
    const side = { id: 'sideSrc', type: 'glimpser-ffmpeg-source', name: 'side', pool: 'pool', source: TESTSRC, fps: 5, quality: 8, startMode: 'always', wires: [[]] };
    await helper.setFlows(pooled([side]), 'full');
    const figures2 = collect('figures');
    // The new node's reports: the stream added on this deploy, healthy, and no longer the removed one.
    await until(() => figures2.some((m) => m.msg.topic === 'side' && m.msg.payload.state === 'healthy'), 'side reported healthy');
    await until(() => figures2.length >= 4, 'two reports');
    const topics = new Set(figures2.slice(-2).map((m) => m.msg.topic));
    assert.deepEqual([...topics].sort(), ['front', 'side']);
    assert.equal(helper.getNode('pool').pool.streams().some((s) => s.name === 'back'), false, 'the removed stream is gone');
    await until(() => lastStatus(helper.getNode('health')).text === '2 healthy', 'status');
  });

  it('refuses a bad interval or an undeployed pool with a clear error, and serves nothing', async function () {
    await load([
      { id: 'h1', type: 'glimpser-stream-health', scope: 'stream', stream: 'front', interval: 'often', wires: [[], []] },
      { id: 'h2', type: 'glimpser-stream-health', scope: 'pool', pool: 'nope', stream: '', interval: 10, wires: [[], []] },
      { id: 'h3', type: 'glimpser-stream-health', scope: 'stream', stream: '', interval: 10, wires: [[], []] },
      { id: 'states', type: 'helper' },
      { id: 'figures', type: 'helper' },
    ]);
    const expect = {
      h1: /^Interval must be 0 \(off\) or 1 to 86400 seconds, got "often"$/,
      h2: /^No deployed glimpser pool with id "nope"/,
      h3: /^No stream to watch: name one in the Stream field/,
    };
    for (const [id, text] of Object.entries(expect)) {
      const n = helper.getNode(id);
      assert.match(callsOf(n, 'error')[0].args[0], text, id);
      assert.equal(lastStatus(n).fill, 'red', id);
    }
  });
});

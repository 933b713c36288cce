'use strict';
// glimpser-metrics in a real Node-RED runtime (node-red-node-test-helper), its RED.httpNode served on a real HTTP
// server, with real FFmpeg streams: the Prometheus text (checked by Debian's promtool where installed), the health
// endpoint, settings, and 100 redeploys with stream-health and metrics deployed.
const assert = require('node:assert/strict');
const http = require('node:http');
const { spawnSync } = require('node:child_process');
const helper = require('../helpers/node-red').testHelper();
const { useHttpRuntime } = require('../helpers/red-http');
const poolNode = require('../../nodes/process-pool.js');
const sourceNode = require('../../nodes/ffmpeg-source.js');
const healthNode = require('../../nodes/stream-health.js');
const metricsNode = require('../../nodes/metrics.js');
const mjpegOut = require('../../nodes/mjpeg-out.js');
const { fetchBuffer } = require('../helpers/mjpeg-client');
const { processMetricsRegistry } = require('../../dist/core/health/metrics');
const { until, delay } = require('../helpers/procs');
const { callsOf } = require('../helpers/node-status');

const TESTSRC = 'testsrc2=size=160x120:rate=10';
const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

function source(id, name, props = {}) {
  return { id, type: 'glimpser-ffmpeg-source', name, pool: 'pool', source: TESTSRC, fps: 10, quality: 8, startMode: 'always', wires: [[]], ...props };
}

function flow({ metrics = {}, sources = [source('src', 'front')], extra = [] } = {}) {
  return [
    { id: 'pool', type: 'glimpser-process-pool', name: 'cams', idleGrace: 1 },
    ...sources,
    { id: 'metrics', type: 'glimpser-metrics', name: '', path: '/glimpser/metrics', healthPath: '/glimpser/health', processMetrics: true, ...metrics },
    ...extra,
  ];
}

/** Sample lines (not comments) of an exposition whose metric name starts with `prefix`. */
function series(text, prefix = 'glimpser_') {
  return text.split('\n').filter((l) => l.startsWith(prefix));
}

describe('metrics node: /glimpser/metrics and /glimpser/health (real FFmpeg, real Node-RED)', function () {
  this.timeout(120000);
  let base;
  const rt = useHttpRuntime(helper);

  async function load(f, { settings, credentials } = {}) {
    await rt.load([poolNode, sourceNode, healthNode, metricsNode, mjpegOut], f, { settings, credentials });
    base = rt.base;
  }

  const get = async (path, method = 'GET') => {
    const r = await fetchBuffer(`${base}${path}`, method);
    return { ...r, text: r.body.toString('utf8') };
  };
  const streamState = (name) => helper.getNode('pool').pool.stream(name).state;

  it('serves Prometheus text made by prom-client: per-stream series with help, and process metrics', async function () {
    await load(flow());
    await until(() => streamState('front') === 'healthy', 'healthy');
    const r = await get('/glimpser/metrics');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(r.headers['cache-control'], 'no-store');
    const names = [
      'glimpser_camera_fps', 'glimpser_camera_target_fps', 'glimpser_camera_frames_total', 'glimpser_camera_bytes_total',
      'glimpser_camera_restarts_total', 'glimpser_camera_retries', 'glimpser_camera_viewers', 'glimpser_camera_dropped_frames_total',
      'glimpser_camera_last_frame_timestamp_seconds', 'glimpser_ffmpeg_cpu_seconds_total', 'glimpser_ffmpeg_resident_memory_bytes',
    ];
    for (const n of names) {
      assert.match(r.text, new RegExp(`^# HELP ${n} \\S.+$`, 'm'), `${n} has help`);
      assert.match(r.text, new RegExp(`^${n}\\{stream="front",pool="cams"\\} [0-9.e+]+$`, 'm'), `${n} for front`);
    }
    assert.match(r.text, /^glimpser_camera_state\{state="healthy",stream="front",pool="cams"\} 1$/m);
    assert.match(r.text, /^glimpser_camera_state\{state="failed",stream="front",pool="cams"\} 0$/m);
    assert.match(r.text, /^glimpser_ffmpeg_info\{version="[^"]+",acceleration="software",stream="front",pool="cams"\} 1$/m);
    // Histograms with no observation (no viewer, no motion detection) have no series yet, as in prom-client.
    assert.match(r.text, /^# TYPE glimpser_camera_delivery_latency_seconds histogram$/m);
    assert.match(r.text, /^# TYPE glimpser_camera_motion_detection_seconds histogram$/m);
    assert.doesNotMatch(r.text, /^glimpser_camera_(delivery_latency|motion_detection)_seconds_/m);
    assert.match(r.text, /^process_cpu_user_seconds_total \S+$/m, 'prom-client default metrics');
    assert.match(r.text, /^nodejs_eventloop_lag_seconds \S+$/m);
    const rss = Number(/^glimpser_ffmpeg_resident_memory_bytes\{[^}]*\} (\S+)$/m.exec(r.text)[1]);
    assert.ok(rss > 1e6, `FFmpeg RSS ${rss}`);
    const head = await get('/glimpser/metrics', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
  });

  it('its own series pass promtool check metrics (Prometheus naming and format)', async function () {
    if (!hasPromtool) this.skip(); // Debian's prometheus package brings promtool; .ci/run installs it
    await load(flow({ metrics: { processMetrics: false } }));
    await until(() => streamState('front') === 'healthy', 'healthy');
    const r = await get('/glimpser/metrics');
    assert.doesNotMatch(r.text, /^process_/m, 'process metrics left out');
    const check = spawnSync('promtool', ['check', 'metrics'], { input: r.text, encoding: 'utf8' });
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  });

  it('histogram buckets are cumulative, in seconds, from the viewer hub where latency is measured', async function () {
    // A viewer of mjpeg-out: its delivery latencies are counted in the hub and exported at scrape time.
    const out = { id: 'out', type: 'glimpser-mjpeg-out', name: 'front', path: '/glimpser/front.mjpg', stillPath: '', maxViewers: 10, stallTimeout: 30, stillTimeout: 10, wires: [] };
    await load(flow({ sources: [source('src', 'front', { wires: [['out']] })], extra: [out] }));
    const viewer = await new Promise((resolve) => http.get(`${base}/glimpser/front.mjpg`, { agent: false }, resolve));
    viewer.resume();
    const delivered = (text) => Number(/^glimpser_camera_delivery_latency_seconds_count\{stream="front",pool="cams"\} (\d+)$/m.exec(text)?.[1] ?? 0);
    let r;
    await until(async () => delivered((r = await get('/glimpser/metrics')).text) >= 10, '10 frames delivered');
    viewer.destroy();
    const buckets = [...r.text.matchAll(/^glimpser_camera_delivery_latency_seconds_bucket\{le="([^"]+)",stream="front",pool="cams"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]);
    assert.deepEqual(buckets.map(([le]) => le), ['0.001', '0.002', '0.005', '0.01', '0.02', '0.05', '0.1', '0.2', '0.5', '1', '2', '5', '+Inf']);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i][1] >= buckets[i - 1][1], 'cumulative');
    const count = Number(/^glimpser_camera_delivery_latency_seconds_count\{stream="front",pool="cams"\} (\d+)$/m.exec(r.text)[1]);
    assert.ok(count >= 10);
    assert.equal(buckets.at(-1)[1], count);
    assert.match(r.text, /^glimpser_camera_viewers\{stream="front",pool="cams"\} 1$/m);
  });

  it('/glimpser/health: 200 while every stream is healthy or idle, 503 with the failed stream and its reason (no password)', async function () {
    const secret = 'Pa55-w0rd-xyz';
    const demand = source('idle', 'porch', { startMode: 'demand' });
    await load(flow({ sources: [source('src', 'front'), demand] }));
    await until(() => streamState('front') === 'healthy', 'healthy');
    const ok = await get('/glimpser/health');
    assert.equal(ok.status, 200);
    assert.match(ok.headers['content-type'], /^application\/json/);
    const body = JSON.parse(ok.text);
    assert.equal(body.status, 'ok');
    const byName = Object.fromEntries(body.streams.map((s) => [s.stream, s]));
    assert.deepEqual(Object.keys(byName).sort(), ['front', 'porch']);
    assert.equal(byName.front.state, 'healthy');
    assert.equal(byName.front.pool, 'cams');
    assert.ok(byName.front.lastFrameAgeSeconds >= 0 && byName.front.lastFrameAgeSeconds < 2);
    assert.equal(typeof byName.front.fps, 'number');
    assert.equal(byName.front.viewers, 0);
    assert.deepEqual(byName.porch, { pool: 'cams', stream: 'porch', state: 'idle', reason: null, fps: 0, viewers: 0, lastFrameAgeSeconds: null });

    const broken = source('bad', 'back', { source: '/nonexistent/glimpser/back.mp4' });
    // Node-RED keeps credentials apart from the flow; the helper takes them per node id.
    await helper.setFlows(flow({ sources: [source('src', 'front'), broken] }), 'full', { bad: { username: 'admin', password: secret } });
    await until(() => streamState('back') === 'failed', 'failed');
    const bad = await get('/glimpser/health');
    assert.equal(bad.status, 503);
    const b = JSON.parse(bad.text);
    assert.equal(b.status, 'unhealthy');
    const back = b.streams.find((s) => s.stream === 'back');
    assert.equal(back.state, 'failed');
    assert.match(back.reason, /back\.mp4/);
    assert.ok(!bad.text.includes(secret));
    assert.equal(b.streams.find((s) => s.stream === 'front').state, 'healthy');
    assert.equal(b.streams.some((s) => s.stream === 'porch'), false, 'the removed stream is gone');
    const metrics = await get('/glimpser/metrics');
    assert.match(metrics.text, /^glimpser_camera_state\{state="failed",stream="back",pool="cams"\} 1$/m);
    assert.doesNotMatch(metrics.text, /stream="porch"/);
  });

  it('/glimpser/health tells the truth: an empty source, fps 0 and a stream no camera defines are 503 with their reasons', async function () {
    const out = { id: 'out', type: 'glimpser-mjpeg-out', name: 'x', stream: 'nowhere', path: '/glimpser/x.mjpg', stillPath: '', maxViewers: 10, stallTimeout: 30, stillTimeout: 10, wires: [] };
    await load(flow({ sources: [source('emptySrc', 'empty', { source: '' }), source('zeroSrc', 'zero', { fps: 0 })], extra: [out] }));
    // Each alone would make it 503; the body names each with its reason (this runtime's RED._ gives message keys).
    await until(async () => (await get('/glimpser/health')).status === 503, '503');
    const body = JSON.parse((await get('/glimpser/health')).text);
    assert.equal(body.status, 'unhealthy');
    const byName = Object.fromEntries(body.streams.map((e) => [e.stream, e]));
    assert.deepEqual(Object.keys(byName).sort(), ['empty', 'nowhere', 'zero']);
    for (const name of ['empty', 'zero']) {
      assert.equal(byName[name].state, 'failed', name);
      assert.ok(typeof byName[name].reason === 'string' && byName[name].reason.length > 0, `${name}: ${byName[name].reason}`);
    }
    assert.deepEqual(byName.nowhere, { pool: 'default', stream: 'nowhere', state: 'failed', reason: 'no source node defines this stream', fps: 0, viewers: 0, lastFrameAgeSeconds: null });
    const metrics = (await get('/glimpser/metrics')).text;
    for (const name of ['empty', 'zero']) assert.match(metrics, new RegExp(`^glimpser_camera_state\\{state="failed",stream="${name}",pool="cams"\\} 1$`, 'm'));
  });

  it('paths are configurable; a bad, duplicate or taken path is refused with a clear error', async function () {
    const out = { id: 'out', type: 'glimpser-mjpeg-out', name: 'x', path: '/taken', stillPath: '', maxViewers: 10, stallTimeout: 30, stillTimeout: 10, wires: [] };
    await load([
      out,
      { id: 'm1', type: 'glimpser-metrics', path: 'prom/', healthPath: '', processMetrics: false },
      { id: 'm2', type: 'glimpser-metrics', path: '/a b', healthPath: '/h', processMetrics: false },
      { id: 'm3', type: 'glimpser-metrics', path: '/same', healthPath: '/same/', processMetrics: false },
      { id: 'm4', type: 'glimpser-metrics', path: '', healthPath: '', processMetrics: false },
      { id: 'm5', type: 'glimpser-metrics', path: '/m5', healthPath: '/taken', processMetrics: false },
    ]);
    assert.equal((await get('/prom')).status, 200);
    assert.equal((await get('/glimpser/health')).status, 404, 'an empty health path serves nothing');
    const expect = { m2: 'metrics.errors.path', m3: 'metrics.errors.samePath', m4: 'metrics.errors.nothing', m5: 'metrics.errors.pathInUse' };
    for (const [id, key] of Object.entries(expect)) {
      const n = helper.getNode(id);
      assert.equal(callsOf(n, 'error')[0]?.args[0], key, id);
      assert.equal(callsOf(n, 'status').at(-1).args[0].fill, 'red', id);
    }
    assert.equal((await get('/h')).status, 404);
    assert.equal((await get('/m5')).status, 404, 'all or nothing: a node whose second path is taken releases its first');
    assert.equal(callsOf(helper.getNode('m1'), 'status').at(-1).args[0].text, '/prom');
  });

  it('applies httpNodeMiddleware as http-in does (httpNodeAuth sits in front of httpNode in Node-RED)', async function () {
    const mw = (req, res, next) => {
      if (req.headers['x-token'] !== 'yes') {
        res.statusCode = 401;
        return res.end('no');
      }
      next();
    };
    await load(flow({ sources: [] }), { settings: { httpNodeMiddleware: mw } });
    assert.equal((await get('/glimpser/metrics')).status, 401);
    assert.equal((await get('/glimpser/health')).status, 401);
    const ok = await new Promise((resolve, reject) => {
      http.get(`${base}/glimpser/health`, { headers: { 'x-token': 'yes' }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).on('error', reject);
    });
    assert.equal(ok, 200);
  });

  it('100 redeploys with stream-health and metrics deployed: no growth in series, listeners or timers; removed streams\' series go', async function () {
    const healthNodes = [
      { id: 'hp', type: 'glimpser-stream-health', scope: 'pool', pool: 'pool', stream: '', interval: 1, wires: [[], []] },
      { id: 'hs', type: 'glimpser-stream-health', scope: 'stream', stream: 'front', interval: 1, wires: [[], []] },
    ];
    const sources = [source('src', 'front'), source('src2', 'back', { fps: 5 })];
    const deployed = (i, list = sources) => flow({ sources: list, metrics: { name: `m${i % 2}` }, extra: healthNodes.map((h) => ({ ...h, interval: 1 + (i % 2) })) });
    await load(deployed(0));
    const pool = helper.getNode('pool').pool;
    await until(() => streamState('front') === 'healthy' && streamState('back') === 'healthy', 'both healthy');
    const processRegistry = processMetricsRegistry();
    const processMetricCount = processRegistry.getMetricsAsArray().length;
    await get('/glimpser/metrics');
    const before = {
      series: series((await get('/glimpser/metrics')).text).length,
      names: (await get('/glimpser/metrics')).text.split('\n').filter((l) => l.startsWith('# TYPE ')).sort(),
      stateListeners: pool.streams().map((s) => s.listenerCount('state')),
      poolListeners: ['streamAdded', 'streamRemoved'].map((e) => pool.listenerCount(e)),
      timeouts: process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length,
      pids: pool.streams().map((s) => s.snapshot().pids[0]),
    };
    for (let i = 1; i <= 100; i++) await helper.setFlows(deployed(i), 'full');
    await delay(1500);
    const text = (await get('/glimpser/metrics')).text;
    assert.equal(series(text).length, before.series, 'glimpser series');
    // Process metrics may gain label values meanwhile (a GC kind seen for the first time), never metrics.
    assert.deepEqual(text.split('\n').filter((l) => l.startsWith('# TYPE ')).sort(), before.names, 'the same metrics');
    assert.equal(processMetricsRegistry(), processRegistry, 'one process registry');
    assert.equal(processRegistry.getMetricsAsArray().length, processMetricCount, 'default metrics registered once');
    assert.deepEqual(pool.streams().map((s) => s.listenerCount('state')), before.stateListeners, 'state listeners');
    assert.deepEqual(['streamAdded', 'streamRemoved'].map((e) => pool.listenerCount(e)), before.poolListeners, 'pool listeners');
    const timeouts = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    assert.ok(timeouts <= before.timeouts + 2, `timers: ${before.timeouts} before, ${timeouts} after`);
    assert.deepEqual(pool.streams().map((s) => s.snapshot().pids[0]), before.pids, 'the same FFmpeg processes carried on');

    // The stream removed on the next deploy takes every one of its series with it.
    await helper.setFlows(deployed(0, [source('src', 'front')]), 'full');
    const after = (await get('/glimpser/metrics')).text;
    assert.doesNotMatch(after, /stream="back"/);
    assert.equal(series(after).length, before.series / 2, 'half the series: one stream of two');
  });

  it('serves nothing when httpNodeRoot is false, and says so', async function () {
    await load(flow({ sources: [] }), { settings: { httpNodeRoot: false } });
    const m = helper.getNode('metrics');
    assert.equal(callsOf(m, 'warn')[0]?.args[0], 'metrics.errors.httpDisabled');
    assert.equal((await get('/glimpser/metrics')).status, 404);
  });
});

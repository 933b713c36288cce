'use strict';
// The Node-RED-free parts of health and metrics: process figures from /proc, the health report, figures over an
// interval, and the per-stream Prometheus registry.
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const promClient = require('prom-client');
const { parseProcessUsage, readProcessUsage, readProcessesUsage } = require('../../dist/core/ffmpeg/process-usage');
const { healthReport, histogramSince, summarise, streamFigures, targetFps, sampleStreams } = require('../../dist/core/health/health');
const { StreamMetrics, processMetricsRegistry } = require('../../dist/core/health/metrics');
const { Histogram, LATENCY_BUCKETS_MS, DETECT_BUCKETS_MS } = require('../../dist/core/util/histogram');
const { ProcessPool } = require('../../dist/core/stream/pool');
const { until } = require('../helpers/procs');

const linux = fs.existsSync('/proc/self/stat');

/** A stream snapshot as Stream.snapshot() shapes it (the fields health and metrics read). */
function snapshot(name, over = {}) {
  return {
    name,
    state: 'healthy',
    previous: 'starting',
    reason: undefined,
    retries: 0,
    time: 1_700_000_000_000,
    source: 'testsrc2',
    fps: 10,
    expectedFps: 10,
    frames: 100,
    jpegFrames: 100,
    bytes: 500_000,
    restarts: 1,
    recycles: 0,
    viewers: 2,
    droppedFrames: 3,
    viewersRefused: { full: 0, address: 0 },
    latency: new Histogram(LATENCY_BUCKETS_MS),
    detectMs: new Histogram(DETECT_BUCKETS_MS),
    lastFrameAt: 1_700_000_000_000,
    pids: [4242],
    ffmpeg: { path: '/usr/bin/ffmpeg', version: 'ffmpeg version 5.1.8-0+deb12u1 Copyright (c) 2000-2025', origin: 'path' },
    outputs: { jpegEvery: 1, gray: [], detect: false },
    acceleration: 'software',
    fallbackReason: undefined,
    ...over,
  };
}
const sample = (name, over = {}, usage = { cpuSeconds: 12.5, rssBytes: 40e6 }, at = 1_700_000_000_500) => ({ pool: 'cams', snapshot: snapshot(name, over), usage, at });

describe('process usage from /proc', function () {
  it('parses a stat line, with a command name that holds spaces and parentheses', function () {
    const stat = '4242 (ff (x) mpeg) S 1 4242 4242 0 -1 4194304 1234 0 0 0 250 50 0 0 20 0 3 0 12345 123456789 9876 18446744073709551615';
    assert.deepEqual(parseProcessUsage(stat, 4096), { cpuSeconds: 3, rssBytes: 9876 * 4096 });
    assert.deepEqual(parseProcessUsage(stat, 16384), { cpuSeconds: 3, rssBytes: 9876 * 16384 });
    assert.equal(parseProcessUsage('garbage', 4096), undefined);
  });

  it('reads this process as Node.js itself counts it (CPU and RSS); USER_HZ is 100 here', async function () {
    if (!linux) this.skip(); // other systems have no /proc: the figures are absent there
    assert.equal(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim(), '100');
    const end = Date.now() + 300;
    while (Date.now() < end); // some CPU time to count
    const u = await readProcessUsage(process.pid);
    const c = process.cpuUsage();
    const node = (c.user + c.system) / 1e6;
    assert.ok(Math.abs(u.cpuSeconds - node) < 0.05, `ours ${u.cpuSeconds} s, Node ${node} s`);
    const rss = process.memoryUsage().rss;
    assert.ok(Math.abs(u.rssBytes - rss) / rss < 0.1, `ours ${u.rssBytes}, Node ${rss}`);
  });

  it('a process that is gone, a bad pid or no /proc: undefined, and the sum skips them', async function () {
    if (!linux) this.skip();
    const child = spawn('sleep', ['5']);
    await new Promise((r) => child.on('spawn', r));
    // Just after the spawn event the child may still be between fork and exec, with no resident pages of its own.
    await until(() => readProcessUsage(child.pid)?.rssBytes > 0, 'sleep resident', 5000);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    await until(() => readProcessUsage(child.pid) === undefined, 'gone from /proc', 5000);
    assert.equal(await readProcessUsage(-1), undefined);
    assert.equal(await readProcessUsage(process.pid, '/nonexistent'), undefined);
    const sum = await readProcessesUsage([child.pid, process.pid]);
    assert.ok(sum.rssBytes > 0);
    assert.equal(await readProcessesUsage([child.pid]), undefined);
  });
});

describe('health report and figures', function () {
  it('200 while every stream is healthy or idle (or there is none), 503 otherwise', function () {
    const now = 1_700_000_002_000;
    assert.equal(healthReport([], now).status, 200);
    assert.equal(healthReport([sample('a'), sample('b', { state: 'idle', lastFrameAt: undefined })], now).status, 200);
    for (const state of ['starting', 'degraded', 'recovering', 'failed']) {
      const r = healthReport([sample('a'), sample('b', { state, reason: 'why' })], now);
      assert.equal(r.status, 503, state);
      assert.equal(r.body.status, 'unhealthy');
    }
    const r = healthReport([sample('a', { state: 'failed', reason: 'No such file or directory: /x.mp4', fps: 0 })], now);
    assert.deepEqual(r.body.streams, [{ pool: 'cams', stream: 'a', state: 'failed', reason: 'No such file or directory: /x.mp4', fps: 0, viewers: 2, lastFrameAgeSeconds: 2 }]);
    assert.equal(r.body.time, new Date(now).toISOString());
  });

  it('histogramSince: the interval\'s observations; the whole histogram after a reset', function () {
    const before = new Histogram([1, 10]);
    [0.5, 5, 50].forEach((v) => before.observe(v));
    const now = new Histogram([1, 10]);
    now.add(before);
    [0.5, 0.5, 20].forEach((v) => now.observe(v));
    const d = histogramSince(now, before);
    assert.deepEqual([...d.counts], [2, 0, 1]);
    assert.equal(d.count, 3);
    assert.equal(d.sum, 21);
    const reset = new Histogram([1, 10]);
    reset.observe(5);
    assert.deepEqual([...histogramSince(reset, before).counts], [0, 1, 0]);
    assert.deepEqual(summarise(d), { count: 3, p50: 1, p95: null, p99: null, mean: 7 });
  });

  it('figures: CPU % over the interval of the same process, none across a restart', function () {
    const prev = sample('a', {}, { cpuSeconds: 10, rssBytes: 40e6 }, 1_000_000);
    const cur = sample('a', {}, { cpuSeconds: 10.5, rssBytes: 41e6 }, 1_002_000);
    assert.equal(streamFigures(cur, prev).cpuPercent, 25);
    assert.equal(streamFigures(cur).cpuPercent, null, 'no earlier sample');
    const restarted = sample('a', { pids: [4343] }, { cpuSeconds: 0.2, rssBytes: 30e6 }, 1_002_000);
    assert.equal(streamFigures(restarted, prev).cpuPercent, null);
    const f = streamFigures(cur, prev);
    assert.equal(f.memoryBytes, 41e6);
    assert.equal(f.ffmpeg.version, 'ffmpeg version 5.1.8-0+deb12u1 Copyright (c) 2000-2025');
    assert.equal(f.lastFrameAgeSeconds, 0, 'the sample time is before the frame: never negative');
  });

  it('targetFps: the full rate with every frame or gray frames asked for, the low rate otherwise, 0 while idle', function () {
    assert.equal(targetFps(snapshot('a')), 10);
    assert.equal(targetFps(snapshot('a', { outputs: { jpegEvery: 10, gray: [], detect: false } })), 1);
    assert.equal(targetFps(snapshot('a', { outputs: { jpegEvery: 10, gray: ['240x180'], detect: false } })), 10);
    assert.equal(targetFps(snapshot('a', { outputs: { jpegEvery: 0, gray: [], detect: false }, pids: [] })), 0);
  });
});

describe('StreamMetrics (prom-client, a registry of its own)', function () {
  it('series per stream with help and labels; a stream no longer sampled loses every series', async function () {
    const m = new StreamMetrics();
    const two = await m.exposition([sample('front'), sample('back', { state: 'failed', reason: 'x' }, null)], false);
    assert.equal(two.contentType, 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(two.body, /^glimpser_camera_fps\{stream="front",pool="cams"\} 10$/m);
    assert.match(two.body, /^glimpser_camera_state\{state="failed",stream="back",pool="cams"\} 1$/m);
    assert.match(two.body, /^glimpser_ffmpeg_cpu_seconds_total\{stream="front",pool="cams"\} 12.5$/m);
    assert.doesNotMatch(two.body, /glimpser_ffmpeg_cpu_seconds_total\{stream="back"/, 'no process figures: no series');
    assert.match(two.body, /^glimpser_ffmpeg_info\{version="5\.1\.8-0\+deb12u1",acceleration="software",stream="front",pool="cams"\} 1$/m);
    assert.match(two.body, /^glimpser_camera_last_frame_timestamp_seconds\{stream="front",pool="cams"\} 1700000000$/m);
    // Refused viewers by reason, both series from the start (an alert's rate() needs the 0 before the first refusal).
    assert.match(two.body, /^# TYPE glimpser_camera_viewers_refused_total counter$/m);
    assert.match(two.body, /^# HELP glimpser_camera_viewers_refused_total \S.+$/m);
    assert.match(two.body, /^glimpser_camera_viewers_refused_total\{reason="full",stream="front",pool="cams"\} 0$/m);
    assert.match(two.body, /^glimpser_camera_viewers_refused_total\{reason="address",stream="front",pool="cams"\} 0$/m);
    const refused = await new StreamMetrics().exposition([sample('front', { viewersRefused: { full: 7, address: 2 } })], false);
    assert.match(refused.body, /^glimpser_camera_viewers_refused_total\{reason="full",stream="front",pool="cams"\} 7$/m);
    assert.match(refused.body, /^glimpser_camera_viewers_refused_total\{reason="address",stream="front",pool="cams"\} 2$/m);
    assert.doesNotMatch(two.body, /_bucket\{/, 'histograms without observations have no series');
    const one = await m.exposition([sample('front')], false);
    assert.doesNotMatch(one.body, /stream="back"/);
    const count = (text) => text.split('\n').filter((l) => l.startsWith('glimpser_')).length;
    assert.equal(count(two.body), count(one.body) * 2 - 2, 'back had every series of front but CPU and memory');
    assert.equal(count((await m.exposition([], false)).body), 0);
  });

  it('histograms from plain bucket counts: cumulative, in seconds, +Inf = count', async function () {
    const latency = new Histogram(LATENCY_BUCKETS_MS);
    [0.5, 3, 3, 40, 9000].forEach((v) => latency.observe(v));
    const detectMs = new Histogram(DETECT_BUCKETS_MS);
    detectMs.observe(0.07);
    const m = new StreamMetrics();
    const { body } = await m.exposition([sample('front', { latency, detectMs })], false);
    // The JSON form (getMetricsAsJSON) carries every label on every value, as prom-client's own histograms do.
    const json = (await m.registry.getMetricsAsJSON()).find((x) => x.name === 'glimpser_camera_delivery_latency_seconds');
    assert.deepEqual(json.values[0], { labels: { stream: 'front', pool: 'cams', le: 0.001 }, sharedLabels: {}, value: 1, metricName: 'glimpser_camera_delivery_latency_seconds_bucket' });
    const buckets = [...body.matchAll(/^glimpser_camera_delivery_latency_seconds_bucket\{le="([^"]+)",stream="front",pool="cams"\} (\d+)$/gm)].map((m) => `${m[1]}:${m[2]}`);
    assert.deepEqual(buckets, ['0.001:1', '0.002:1', '0.005:3', '0.01:3', '0.02:3', '0.05:4', '0.1:4', '0.2:4', '0.5:4', '1:4', '2:4', '5:4', '+Inf:5']);
    assert.match(body, /^glimpser_camera_delivery_latency_seconds_sum\{stream="front",pool="cams"\} 9\.0465$/m);
    assert.match(body, /^glimpser_camera_delivery_latency_seconds_count\{stream="front",pool="cams"\} 5$/m);
    assert.match(body, /^glimpser_camera_motion_detection_seconds_bucket\{le="0\.0001",stream="front",pool="cams"\} 1$/m);
    assert.match(body, /^glimpser_camera_motion_detection_seconds_bucket\{le="0\.00005",stream="front",pool="cams"\} 0$/m);
  });

  it('two registries never collide, prom-client\'s global registry stays empty, process metrics are made once', async function () {
    const a = new StreamMetrics();
    const b = new StreamMetrics();
    await a.exposition([sample('front')]);
    await b.exposition([sample('back')]);
    assert.equal(promClient.register.getMetricsAsArray().length, 0);
    assert.equal(processMetricsRegistry(), processMetricsRegistry());
    const withProcess = (await a.exposition([sample('front')])).body;
    assert.match(withProcess, /^process_resident_memory_bytes \d+$/m);
    assert.doesNotMatch(withProcess, /stream="back"/);
  });

  it('concurrent scrapes each get the text of their own samples', async function () {
    const m = new StreamMetrics();
    const [x, y] = await Promise.all([m.exposition([sample('x')], false), m.exposition([sample('y')], false)]);
    assert.match(x.body, /stream="x"/);
    assert.doesNotMatch(x.body, /stream="y"/);
    assert.match(y.body, /stream="y"/);
    assert.doesNotMatch(y.body, /stream="x"/);
  });

  it('a real pool: every stream sampled with its FFmpeg\'s CPU and memory', async function () {
    this.timeout(20000);
    const pool = new ProcessPool({ idleGraceMs: 0 });
    try {
      const s = pool.stream('front');
      s.define('src', { capture: { source: 'testsrc2=size=160x120:rate=10', fps: 10, quality: 8 }, lowFps: 0 });
      s.use('viewer', { run: true, jpeg: 'full' });
      pool.stream('porch');
      await until(() => s.state === 'healthy', 'healthy', 10000);
      const samples = await sampleStreams([{ label: 'default', pool }]);
      const byName = Object.fromEntries(samples.map((x) => [x.snapshot.name, x]));
      assert.deepEqual(Object.keys(byName).sort(), ['front', 'porch']);
      if (linux) assert.ok(byName.front.usage.rssBytes > 1e6 && byName.front.usage.cpuSeconds >= 0);
      assert.equal(byName.porch.usage, undefined, 'no process, no figures');
      const { body } = await new StreamMetrics().exposition(samples, false);
      assert.match(body, /^glimpser_camera_state\{state="idle",stream="porch",pool="default"\} 1$/m);
    } finally {
      await pool.close();
    }
  });
});

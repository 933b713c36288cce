'use strict';
// Hardware decoding through the nodes: a hwaccel-config node whose probe passes vaapi on a fake FFmpeg that then
// fails as a camera pipeline with -hwaccel. The stream must fall back to software at once, say why, and keep its
// viewers; and with the real FFmpeg here (no GPU) the same settings simply run in software.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const helper = require('../helpers/node-red').testHelper();
const { withCatalogs } = require('../helpers/i18n');

const [poolNode, sourceNode, mjpegOut, hwNode, healthNode, metricsNode] = withCatalogs([
  require('../../nodes/process-pool.js'), require('../../nodes/ffmpeg-source.js'), require('../../nodes/mjpeg-out.js'), require('../../nodes/hwaccel-config.js'),
  require('../../nodes/stream-health.js'), require('../../nodes/metrics.js'),
]);
const { fetchBuffer } = require('../helpers/mjpeg-client');
const { clearProbeCache } = require('../../dist/core/hwaccel/probe');
const { openStream, nextParts } = require('../helpers/mjpeg-client');
const { until } = require('../helpers/procs');
const { useHttpRuntime } = require('../helpers/red-http');

const FAKE = path.join(__dirname, '..', 'fixtures', 'fake-ffmpeg', 'ffmpeg-hw-probe-then-runtime-error');

function flow(ffmpegPath, mode, source) {
  return [
    { id: 'pool', type: 'glimpser-process-pool', idleGrace: 10, ...(ffmpegPath ? { ffmpegPath } : {}) },
    { id: 'hw', type: 'glimpser-hwaccel-config', mode, device: '', retryInterval: 600 },
    { id: 'src', type: 'glimpser-ffmpeg-source', name: 'cam', pool: 'pool', hwaccel: 'hw', source, fps: 10, quality: 5, startMode: 'always', wires: [['out']] },
    { id: 'out', type: 'glimpser-mjpeg-out', path: '/cam.mjpg', maxPerAddress: 10, wires: [] },
    { id: 'health', type: 'glimpser-stream-health', scope: 'stream', stream: 'cam', interval: 1, wires: [['states'], ['figures']] },
    { id: 'states', type: 'helper' },
    { id: 'figures', type: 'helper' },
    { id: 'metrics', type: 'glimpser-metrics', name: '', path: '/glimpser/metrics', healthPath: '/glimpser/health', processMetrics: false },
  ];
}

describe('hardware decoding through the nodes', function () {
  this.timeout(60000);
  let dir;
  beforeEach(function () {
    clearProbeCache();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpser-hw-'));
  });
  afterEach(function () {
    delete process.env.FAKE_FFMPEG_HWLOG;
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const rt = useHttpRuntime(helper);

  async function load(f) {
    await rt.load([poolNode, hwNode, sourceNode, mjpegOut, healthNode, metricsNode], f);
    return rt.base;
  }

  it('probe passes vaapi, the camera fails in hardware: software at once, degraded with the reason, the viewer stays', async function () {
    const log = path.join(dir, 'starts');
    process.env.FAKE_FFMPEG_HWLOG = log;
    const base = await load(flow(FAKE, 'vaapi', 'testsrc'));
    const figures = [];
    helper.getNode('figures').on('input', (msg) => figures.push(msg.payload));
    const viewer = await openStream(`${base}/cam.mjpg`);
    const stream = helper.getNode('pool').pool.stream('cam');
    await until(() => stream.state === 'degraded', 'degraded after the fallback', 30000);
    assert.match(stream.stateInfo.reason, /vaapi failed/);
    const snap = stream.snapshot();
    assert.equal(snap.acceleration, 'software');
    assert.match(snap.fallbackReason, /VAAPI|vaapi/);
    viewer.queue.length = 0;
    const parts = await nextParts(viewer, 3);
    assert.ok(parts.some((b) => !b.placeholder), 'real frames from the software process on the same connection');
    assert.equal(viewer.res.destroyed, false);
    const starts = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' ')[1]);
    assert.equal(starts[0], 'hw:vaapi');
    assert.ok(starts.slice(1).every((s) => s === 'sw'), starts.join(', '));
    const src = helper.getNode('src');
    const warned = src.warn.getCalls().map((c) => String(c.args[0])).filter((t) => /vaapi failed/.test(t));
    assert.equal(warned.length, 1, 'the fallback is logged once');
    // stream-health's figures and the metrics say which decoding runs, and that it is a fallback.
    await until(() => figures.some((f) => f.fallbackReason), 'a figures report with the fallback', 10000);
    const report = figures.find((f) => f.fallbackReason);
    assert.equal(report.acceleration, 'software');
    assert.match(report.fallbackReason, /vaapi failed/);
    const text = (await fetchBuffer(`${base}/glimpser/metrics`)).body.toString();
    assert.match(text, /^glimpser_camera_acceleration_fallback\{stream="cam",pool="[^"]*"\} 1$/m);
    assert.match(text, /^glimpser_ffmpeg_info\{[^}]*acceleration="software"[^}]*\} 1$/m);
    viewer.close();
  });

  it('with the real FFmpeg here (no GPU), auto runs the camera in software and the stream is healthy', async function () {
    const base = await load(flow(undefined, 'auto', 'testsrc2=size=320x240:rate=10'));
    const viewer = await openStream(`${base}/cam.mjpg`);
    const stream = helper.getNode('pool').pool.stream('cam');
    await until(() => stream.state === 'healthy', 'healthy', 30000);
    assert.equal(stream.snapshot().acceleration, 'software');
    await nextParts(viewer, 2);
    viewer.close();
  });
});

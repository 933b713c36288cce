'use strict';
// A pass-through camera's frames reach the stream whatever the camera's pacing, and its health is what is delivered:
// a camera that sends in uneven pairs keeps every frame; one faster than the stream is thinned (healthy); one slower
// is degraded, saying both rates.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { ProcessPool } = require('../../dist/core/stream/pool');
const { startCamera, part } = require('../helpers/mjpeg-camera');
const { tempDir, recordMjpeg } = require('../helpers/fixtures');
const { until } = require('../helpers/procs');

/** A camera that sends `frames` once, each after the delay `gap(i)` ms, then keeps the connection open. */
function pacedCamera(frames, gap) {
  return startCamera((req, res) => {
    res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace; boundary=cam' });
    let i = 0;
    const next = () => {
      if (res.destroyed || i >= frames.length) return;
      res.write(part(frames[i]));
      setTimeout(next, gap(i++));
    };
    next();
  });
}

function passthrough(pool, name, url, fps) {
  const stream = pool.stream(name);
  stream.define('src', { capture: { source: url, fps, quality: 5, passthrough: true }, lowFps: 0 });
  const got = [];
  stream.on('frame', (f) => f.jpeg && got.push(f.jpeg));
  stream.use('viewer', { run: true, jpeg: 'full' });
  return { stream, got };
}

describe('pass-through: every frame of an unevenly paced camera, health by what is delivered', function () {
  this.timeout(30000);
  let dir;
  let frames;
  let pool;
  const cams = [];
  before(function () {
    dir = tempDir('glimpser-pt-rate-');
    frames = recordMjpeg(dir, { frames: 40, size: '160x120' }).frames;
  });
  afterEach(async function () {
    await pool?.close();
    for (const c of cams.splice(0)) await c.close();
  });
  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a 10 fps camera in uneven pairs (40/160 ms, as VLC sends): all 40 frames reach the stream, byte for byte', async function () {
    const cam = await pacedCamera(frames, (i) => (i % 2 === 0 ? 40 : 160));
    cams.push(cam);
    pool = new ProcessPool({ idleGraceMs: 0 });
    const { got } = passthrough(pool, 'pairs', `${cam.url}/`, 10);
    await until(() => got.length >= 40, '40 frames', 15000).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(got.length, 40, `${got.length} of 40 frames delivered`);
    got.forEach((jpeg, i) => assert.ok(jpeg.equals(frames[i]), `frame ${i} is the camera's`));
  });

  it('faster than the stream: thinned and healthy; slower: degraded, with the delivered and the camera\'s rate', async function () {
    const fast = await startCamera((req, res, c) => {
      res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace; boundary=cam' });
      c.every(res, 50, (i) => res.write(part(frames[i % frames.length])));
    });
    const slow = await startCamera((req, res, c) => {
      res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace; boundary=cam' });
      c.every(res, 250, (i) => res.write(part(frames[i % frames.length])));
    });
    cams.push(fast, slow);
    pool = new ProcessPool({ idleGraceMs: 0, supervisor: { healthIntervalMs: 1000 } });
    const a = passthrough(pool, 'fast', `${fast.url}/`, 10);
    const b = passthrough(pool, 'slow', `${slow.url}/`, 10);
    await until(() => b.stream.state === 'degraded', 'the slow camera degraded', 15000);
    assert.match(b.stream.stateInfo.reason, /^\d\.\d fps, expected 10: the camera sends \d\.\d fps$/);
    assert.equal(a.stream.state, 'healthy');
    const fs_ = a.stream.snapshot();
    assert.ok(fs_.sourceFps > fs_.fps * 1.5, `camera ${fs_.sourceFps} fps, delivered ${fs_.fps} fps`);
  });
});

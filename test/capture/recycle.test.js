'use strict';
// The pool replaces a long-running FFmpeg beside the running one: the stream never leaves healthy, frames keep coming,
// and the replacement is counted as a recycle, not a restart.
const assert = require('node:assert/strict');
const { ProcessPool } = require('../../dist/core/stream/pool');
const fs = require('node:fs');
const { until, isAlive } = require('../helpers/procs');
const { startCamera, part } = require('../helpers/mjpeg-camera');
const { tempDir, recordMjpeg } = require('../helpers/fixtures');

describe('recycling FFmpeg processes without a gap', function () {
  this.timeout(30000);
  let pool;
  afterEach(async function () {
    await pool?.close();
  });

  it('after its time a process is replaced by a fresh one that took over with its first frame', async function () {
    pool = new ProcessPool({ idleGraceMs: 0, recycle: { afterMs: 1500, checkMs: 250 } });
    const stream = pool.stream('cam');
    stream.define('src', { capture: { source: 'testsrc2=size=320x240:rate=10', fps: 10, quality: 5 }, lowFps: 0 });
    const states = [];
    const times = [];
    stream.on('state', (c) => states.push(c.state));
    stream.on('frame', (f) => f.jpeg && times.push(performance.now()));
    const recycled = [];
    pool.on('recycle', (capture, reason, ok) => recycled.push({ reason, ok }));
    stream.use('viewer', { run: true, jpeg: 'full' });
    await until(() => stream.state === 'healthy', 'healthy');
    const [first] = stream.snapshot().pids;
    await until(() => recycled.length >= 1, 'a recycle', 15000);
    assert.deepEqual(recycled[0].ok, true);
    assert.match(recycled[0].reason, /^ran \d+ s$/);
    const [second] = stream.snapshot().pids;
    assert.notEqual(second, first);
    await until(() => !isAlive(first), 'the old process gone');
    const framesBefore = times.length;
    await until(() => times.length >= framesBefore + 5, 'frames from the new process');
    const s = stream.snapshot();
    assert.equal(s.recycles, 1);
    assert.equal(s.restarts, 0);
    assert.deepEqual(states.filter((x) => x !== 'healthy'), ['starting'], 'never left healthy once it was');
  });

  it('a camera that serves one client refuses the successor: the recycle is given up, the running process carries on', async function () {
    const dir = tempDir('glimpser-recycle-one-');
    const { frames } = recordMjpeg(dir, { frames: 10, size: '160x120' });
    fs.rmSync(dir, { recursive: true, force: true });
    const cam = await startCamera((req, res, c) => {
      res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace; boundary=cam' });
      c.every(res, 100, (i) => res.write(part(frames[i % frames.length])));
    }, { maxClients: 1 });
    try {
      pool = new ProcessPool({ idleGraceMs: 0, recycle: { afterMs: 1500, checkMs: 250 } });
      const stream = pool.stream('one');
      stream.define('src', { capture: { source: `${cam.url}/stream`, kind: 'mjpeg-http', fps: 10, quality: 5 }, lowFps: 0 });
      const recycled = [];
      pool.on('recycle', (capture, reason, ok) => recycled.push(ok));
      stream.use('viewer', { run: true, jpeg: 'full' });
      await until(() => stream.state === 'healthy', 'healthy');
      const [pid] = stream.snapshot().pids;
      await until(() => recycled.length >= 1, 'a recycle tried', 15000);
      assert.deepEqual(recycled, [false]);
      assert.ok(cam.refused >= 1, 'the camera refused the successor');
      // Not tried again every check: a recycle given up waits an hour.
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(recycled, [false]);
      assert.equal(stream.state, 'healthy');
      assert.equal(stream.snapshot().pids[0], pid);
      assert.equal(stream.snapshot().recycles, 0);
    } finally {
      await pool.close();
      pool = undefined;
      await cam.close();
    }
  });
});

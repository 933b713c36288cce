'use strict';
const assert = require('node:assert/strict');
const { ProcessPool } = require('../../dist/core/stream/pool');
const { isAlive, waitFor } = require('../helpers/procs');

const CAM = { source: 'testsrc2=size=320x240:rate=10', fps: 10, quality: 5 };

function firstFrame(stream, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no frame')), timeoutMs);
    stream.once('frame', (f) => {
      clearTimeout(t);
      resolve(f);
    });
  });
}

describe('ProcessPool (real FFmpeg)', function () {
  this.timeout(30000);
  let pool;
  afterEach(async function () {
    await pool.close();
  });

  it('shares one process between two leases of the same source, and frames are JPEGs', async function () {
    pool = new ProcessPool({ idleGraceMs: 0 });
    const a = pool.acquire(CAM);
    const b = pool.acquire({ ...CAM, source: ` ${CAM.source} ` });
    assert.equal(a.capture, b.capture, 'same normalised source, same process');
    const frame = await firstFrame(a.capture);
    assert.equal(frame.jpeg[0], 0xff);
    assert.equal(frame.jpeg[1], 0xd8);
    assert.equal(frame.jpeg.at(-2), 0xff);
    assert.equal(frame.jpeg.at(-1), 0xd9);
    assert.equal(pool.captures().length, 1);
    const pid = a.capture.stats().pid;
    assert.ok(pid > 0);
    a.release();
    assert.ok(isAlive(pid), 'still running for the second lease');
    b.release();
    await waitFor(() => !isAlive(pid), 5000);
    assert.equal(isAlive(pid), false, 'stopped with the last lease');
    assert.equal(pool.captures().length, 0);
  });

  it('gives different output settings their own process', async function () {
    pool = new ProcessPool({ idleGraceMs: 0 });
    const a = pool.acquire(CAM);
    const b = pool.acquire({ ...CAM, width: 160 });
    assert.notEqual(a.capture, b.capture);
    const [fa, fb] = await Promise.all([firstFrame(a.capture), firstFrame(b.capture)]);
    assert.ok(fb.jpeg.length < fa.jpeg.length, 'the 160 px stream has smaller frames');
    assert.notEqual(a.capture.stats().pid, b.capture.stats().pid);
  });

  it('keeps an idle stream for the grace period and reuses it when a lease returns', async function () {
    pool = new ProcessPool({ idleGraceMs: 1500 });
    const a = pool.acquire(CAM);
    await firstFrame(a.capture);
    const pid = a.capture.stats().pid;
    a.release();
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(isAlive(pid), 'alive during the grace');
    const again = pool.acquire(CAM);
    assert.equal(again.capture, a.capture, 'the warm process is reused');
    assert.equal(again.capture.stats().pid, pid);
    again.release();
    await waitFor(() => !isAlive(pid), 6000);
    assert.equal(isAlive(pid), false, 'stopped after the grace');
  });

  it('release(immediate) skips the grace; a double release is harmless', async function () {
    pool = new ProcessPool({ idleGraceMs: 60000 });
    const a = pool.acquire(CAM);
    const b = pool.acquire(CAM);
    await firstFrame(a.capture);
    const pid = a.capture.stats().pid;
    a.release();
    a.release();
    assert.ok(isAlive(pid), 'the double release did not drop the other lease');
    b.release(true);
    await waitFor(() => !isAlive(pid), 5000);
    assert.equal(isAlive(pid), false);
  });

  it('close() stops every process and resolves only once they have exited', async function () {
    pool = new ProcessPool({ idleGraceMs: 60000 });
    const leases = [pool.acquire(CAM), pool.acquire({ ...CAM, width: 160 }), pool.acquire({ ...CAM, fps: 5 })];
    await Promise.all(leases.map((l) => firstFrame(l.capture)));
    const pids = leases.map((l) => l.capture.stats().pid);
    assert.equal(new Set(pids).size, 3);
    await pool.close();
    for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${pid} exited before close resolved`);
    assert.throws(() => pool.acquire(CAM), /closed/);
  });

  it('reports a configured FFmpeg path that does not exist as a failed stream', async function () {
    pool = new ProcessPool({ idleGraceMs: 0, ffmpegPath: '/nonexistent/ffmpeg' });
    const errors = [];
    pool.on('binaryError', (e) => errors.push(e.message));
    const a = pool.acquire(CAM);
    const states = [];
    a.capture.on('state', (s, r) => states.push([s, r]));
    await waitFor(() => a.capture.state === 'failed', 5000);
    assert.equal(a.capture.state, 'failed');
    assert.match(a.capture.stats().lastError, /not found or not executable at the configured path "\/nonexistent\/ffmpeg"/);
    assert.equal(errors.length, 1);
    a.release();
  });

  it('produces gray PGM frames on the second output when asked, from the same process', async function () {
    pool = new ProcessPool({ idleGraceMs: 0 });
    const a = pool.acquire({ ...CAM, gray: { width: 120, height: 90 } });
    const { gray: [gray] } = await firstFrame(a.capture);
    assert.equal(gray.width, 120);
    assert.equal(gray.height, 90);
    assert.equal(gray.data.length, 120 * 90);
    await firstFrame(a.capture);
    a.release();
  });
});

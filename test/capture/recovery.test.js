'use strict';
// One retry policy for both kinds of camera: an FFmpeg process killed and a pass-through camera's connection dropped,
// each right after frames started to flow, are both tried again at once (not after a backoff).
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { ProcessPool } = require('../../dist/core/stream/pool');
const { startCamera, part } = require('../helpers/mjpeg-camera');
const { until } = require('../helpers/procs');

const JPEG = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'tiny.jpg'));

/** The stream's state changes from now on. */
function states(stream) {
  const seen = [];
  stream.on('state', (c) => seen.push(c));
  return seen;
}

describe('recovery: an FFmpeg camera and a pass-through camera recover alike', function () {
  this.timeout(30000);
  let pool;
  let cam;
  afterEach(async function () {
    await pool?.close();
    await cam?.close();
    pool = cam = undefined;
  });

  it('FFmpeg killed 1 s into its run (frames delivered): restarted at once, then frames again', async function () {
    pool = new ProcessPool({ idleGraceMs: 0 });
    const stream = pool.stream('ff');
    stream.define('src', { capture: { source: 'testsrc2=size=160x120:rate=10', fps: 10, quality: 5 }, lowFps: 0 });
    const seen = states(stream);
    stream.use('viewer', { run: true, jpeg: 'full' });
    await until(() => stream.state === 'healthy', 'healthy');
    const [pid] = stream.snapshot().pids;
    process.kill(pid, 'SIGKILL');
    await until(() => seen.some((c) => c.state === 'recovering'), 'recovering');
    assert.match(seen.find((c) => c.state === 'recovering').reason, /killed by SIGKILL.*; retry 1 in 0\.0 s$/);
    await until(() => stream.state === 'healthy' && stream.snapshot().pids[0] !== pid, 'frames from a new process');
  });

  it('pass-through camera drops the connection after a few frames: reconnected at once, then frames again', async function () {
    let served = 0;
    cam = await startCamera((req, res, c) => {
      res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace; boundary=cam' });
      // The first connection ends after 5 frames (a camera rebooting, a network blip); the next one keeps going.
      const first = served++ === 0;
      c.every(res, 100, (i) => {
        if (first && i === 5) {
          res.socket.destroy();
          return false;
        }
        res.write(part(JPEG));
      });
    });
    pool = new ProcessPool({ idleGraceMs: 0 });
    const stream = pool.stream('pt');
    stream.define('src', { capture: { source: `${cam.url}/video`, fps: 10, quality: 5, passthrough: true }, lowFps: 0 });
    const seen = states(stream);
    stream.use('viewer', { run: true, jpeg: 'full' });
    await until(() => seen.some((c) => c.state === 'recovering'), 'recovering');
    assert.match(seen.find((c) => c.state === 'recovering').reason, /; retry 1 in 0\.0 s$/);
    await until(() => served === 2 && stream.state === 'healthy', 'frames from the second connection');
  });
});

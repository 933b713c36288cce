'use strict';
// A camera that serves one client at a time (an ESP32-CAM, FFmpeg's -listen server), read with FFmpeg: when demand
// changes the stream's outputs, the successor process beside the running one is refused. The stream must notice,
// say so once, and switch by reconnecting, so a viewer gets the full rate instead of staying on the stills.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { ProcessPool } = require('../../dist/core/stream/pool');
const { startCamera, part } = require('../helpers/mjpeg-camera');
const { tempDir, recordMjpeg } = require('../helpers/fixtures');
const { until } = require('../helpers/procs');

describe('a single-client camera read with FFmpeg', function () {
  this.timeout(40000);
  let dir;
  let pool;
  let cam;
  before(function () {
    dir = tempDir('glimpser-one-');
  });
  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async function () {
    await pool?.close();
    await cam?.close();
    pool = cam = undefined;
  });

  it('a viewer\'s arrival switches the outputs by reconnecting: refused once, noted once, then every frame; fewer outputs are not worth another reconnect', async function () {
    const { frames } = recordMjpeg(dir, { frames: 20, size: '160x120' });
    cam = await startCamera((req, res, c) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      c.every(res, 100, (i) => res.write(part(frames[i % frames.length], { boundary: 'ffmpeg' })));
    }, { maxClients: 1 });
    pool = new ProcessPool({ idleGraceMs: 0 });
    const stream = pool.stream('esp');
    const notes = [];
    stream.on('note', (level, text) => notes.push({ level, text }));
    stream.define('src', { capture: { source: `${cam.url}/stream`, kind: 'http', fps: 10, quality: 5 }, lowFps: 0.5, read: 'ffmpeg' });
    // Motion first: gray every frame, stills every 2 s.
    stream.use('motion', { gray: { width: 80, height: 60 } });
    await until(() => stream.state === 'healthy', 'the first process running');
    assert.equal(stream.snapshot().outputs.jpegEvery, 20);
    stream.use('viewer', { run: true, jpeg: 'full' });
    await until(() => stream.snapshot().outputs.jpegEvery === 1 && stream.state === 'healthy', 'full rate after the switch', 30000);
    assert.ok(cam.refused >= 1, 'the camera refused the second connection');
    assert.equal(notes.length, 1, JSON.stringify(notes));
    assert.equal(notes[0].level, 'warn');
    assert.match(notes[0].text, /^the camera refused a second connection \(.+\): it serves one client at a time, so its outputs now change by reconnecting$/);
    // Every frame now, and the next change (the viewer leaves) reconnects without trying two at once.
    const jpegs = [];
    const on = (f) => f.jpeg && jpegs.push(f.jpeg);
    stream.on('frame', on);
    await new Promise((r) => setTimeout(r, 2000));
    stream.off('frame', on);
    assert.ok(jpegs.length >= 15, `${jpegs.length} frames in 2 s at full rate`);
    // The viewer leaves: fewer outputs would cost another reconnect, so the process keeps its outputs (no gap).
    const before = { refused: cam.refused, connections: cam.connections, pid: stream.snapshot().pids[0] };
    stream.unuse('viewer', 'now');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(stream.snapshot().outputs.jpegEvery, 1);
    assert.equal(stream.snapshot().pids[0], before.pid);
    assert.deepEqual([cam.refused, cam.connections], [before.refused, before.connections], 'no connection opened again');
    assert.equal(notes.length, 1);
  });
});

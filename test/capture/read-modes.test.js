'use strict';
// How an http(s) camera is read is decided by what it answers, never by its URL's spelling: read mode auto keeps our
// own client (pass-through) for MJPEG, whatever the Content-Type says, and hands anything else to FFmpeg; read with
// FFmpeg, an MJPEG camera keeps its frames (the rate limit counts by the wall clock, not FFmpeg's invented 25 fps).
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { ProcessPool } = require('../../dist/core/stream/pool');
const { startCamera, part } = require('../helpers/mjpeg-camera');
const { liveCamera } = require('../helpers/live-camera');
const { tempDir, recordMjpeg } = require('../helpers/fixtures');
const { until } = require('../helpers/procs');

const hash = (b) => crypto.createHash('sha1').update(b).digest('hex');

/** A camera sending `frames` every `ms` as `contentType`, each framed by `frame(jpeg)`, looping. */
function camera(frames, { contentType, frame, ms = 100 }) {
  return startCamera((req, res, c) => {
    res.writeHead(200, contentType ? { 'Content-Type': contentType } : {});
    c.every(res, ms, (i) => res.write(frame(frames[i % frames.length])));
  });
}

function watch(pool, name, capture, read) {
  const stream = pool.stream(name);
  const notes = [];
  const jpegs = [];
  stream.on('note', (level, text) => notes.push({ level, text }));
  stream.on('frame', (f) => f.jpeg && jpegs.push(f.jpeg));
  stream.define('src', { capture: { fps: 10, quality: 5, ...capture }, lowFps: 0, read });
  stream.use('viewer', { run: true, jpeg: 'full' });
  return { stream, notes, jpegs };
}

describe('read modes: auto decides by what the camera answers', function () {
  this.timeout(40000);
  let dir;
  let frames;
  let pool;
  const cams = [];
  before(function () {
    dir = tempDir('glimpser-read-');
    frames = recordMjpeg(dir, { frames: 30, size: '160x120' }).frames;
  });
  afterEach(async function () {
    await pool?.close();
    pool = undefined;
    for (const c of cams.splice(0)) await c.close();
  });
  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const mjpegAnswers = [
    ['multipart/x-mixed-replace with its boundary', 'multipart/x-mixed-replace; boundary=cam', (j) => part(j)],
    ['application/octet-stream with a multipart body (FFmpeg\'s and VLC\'s servers by default)', 'application/octet-stream', (j) => part(j, { boundary: 'ffmpeg' })],
    ['no Content-Type, JPEGs back to back', undefined, (j) => j],
  ];
  for (const [what, contentType, frame] of mjpegAnswers) {
    it(`auto, ${what}: pass-through, the camera's own bytes, no FFmpeg`, async function () {
      const cam = await camera(frames, { contentType, frame });
      cams.push(cam);
      pool = new ProcessPool({ idleGraceMs: 0 });
      // A URL that does not look like MJPEG (an ESP32-CAM's /stream, motion's /).
      const w = watch(pool, 'cam', { source: `${cam.url}/stream`, kind: 'http', passthrough: true }, 'auto');
      await until(() => w.jpegs.length >= 5, 'five frames');
      const known = new Set(frames.map(hash));
      assert.ok(w.jpegs.every((j) => known.has(hash(j))), 'every frame is one the camera sent, byte for byte');
      const s = w.stream.snapshot();
      assert.equal(s.acceleration, 'pass-through (no decoding)');
      assert.deepEqual(s.pids, []);
      assert.deepEqual(w.notes, []);
    });
  }

  it('auto, a camera answering video/mp2t (H.264): FFmpeg reads it, and the log says why', async function () {
    const clip = path.join(dir, 'live.mp4');
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=10', '-t', '4',
      '-c:v', 'libx264', '-preset', 'veryfast', '-g', '10', '-bf', '0', '-pix_fmt', 'yuv420p', clip]);
    const cam = await liveCamera(clip);
    cams.push(cam);
    pool = new ProcessPool({ idleGraceMs: 0 });
    const w = watch(pool, 'ts', { source: cam.url, kind: 'http', passthrough: true }, 'auto');
    await until(() => w.stream.snapshot().pids.length === 1 && w.jpegs.length >= 3, 'frames from FFmpeg', 30000);
    assert.equal(w.notes.length, 1);
    assert.match(w.notes[0].text, /answered with "video\/mp2t", not an MJPEG stream \(multipart\/x-mixed-replace\); camera http:\/\/127\.0\.0\.1:\d+\/\S*: reading it with FFmpeg/);
    assert.equal(w.stream.snapshot().acceleration, 'software');
  });

  it('read with FFmpeg, a 10 fps MJPEG camera without an .mjpg URL keeps every frame once FFmpeg runs', async function () {
    const cam = await camera(frames, { contentType: 'application/octet-stream', frame: (j) => part(j, { boundary: 'ffmpeg' }) });
    cams.push(cam);
    pool = new ProcessPool({ idleGraceMs: 0 });
    const w = watch(pool, 'ff', { source: `${cam.url}/`, kind: 'http' }, 'ffmpeg');
    await until(() => w.jpegs.length >= 5, 'FFmpeg running');
    // 3 s of the camera's frames after FFmpeg came up: FFmpeg re-encodes, so each distinct picture is a distinct JPEG.
    const from = w.jpegs.length;
    await new Promise((r) => setTimeout(r, 3000));
    const window = w.jpegs.slice(from);
    const distinct = new Set(window.map(hash)).size;
    assert.ok(window.length >= 28, `${window.length} frames in 3 s of a 10 fps camera (FFmpeg's 25 fps stamps kept about 40%)`);
    assert.equal(distinct, window.length, 'no picture twice');
  });
});

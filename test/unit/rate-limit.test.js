'use strict';
// The rate limit of every FFmpeg output (ffmpeg/args.ts rateLimit): thins a fast source to the asked rate on
// average, keeps every frame of a camera that paces unevenly, and never doubles a frame of a slow one. Files are
// read as fast as FFmpeg can (not in real time), so the counts follow from their timestamps alone.
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { buildArgs } = require('../../dist/core/ffmpeg/args.js');
const { tempDir, ffmpeg } = require('../helpers/fixtures');
const { capture, stopAll } = require('../helpers/capture');

/** Every frame FFmpeg's -f mpjpeg output gave for `file` read at `fps`, and how many distinct pictures. */
async function read(file, fps) {
  const { jpegs } = await capture(buildArgs({ source: file, fps, quality: 5, realtime: false }), { jpeg: Infinity });
  const distinct = new Set(jpegs.map((j) => crypto.createHash('sha1').update(j).digest('hex'))).size;
  return { frames: jpegs.length, distinct };
}

describe('rate limit: thins without ever duplicating', function () {
  this.timeout(30000);
  let dir;
  before(function () {
    dir = tempDir('glimpser-rate-');
    const clip = (name, filter, extra = []) => {
      const file = path.join(dir, name);
      ffmpeg(['-f', 'lavfi', '-i', filter, '-c:v', 'mjpeg', '-q:v', '5', ...extra, file]);
      return file;
    };
    // 4 s each: 25 fps; 5 fps; 10 fps on average but in uneven pairs 40/160 ms apart, as VLC's MJPEG server sends.
    clip('fast.mkv', 'testsrc2=size=160x120:rate=25:duration=4');
    clip('slow.mkv', 'testsrc2=size=160x120:rate=5:duration=4');
    clip('pairs.mkv', "testsrc2=size=160x120:rate=10:duration=4,settb=1/1000,setpts='(floor(N/2)*0.2+mod(N\\,2)*0.04)/TB'", ['-fps_mode', 'passthrough']);
  });
  after(async function () {
    await stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a 25 fps source read at 10 fps gives 10 frames a second (plus the first half second\'s burst)', async function () {
    const { frames, distinct } = await read(path.join(dir, 'fast.mkv'), 10);
    // 4 s at 10 fps, and the bucket's 5 frames let through at the start where it refills 0.4 a frame.
    assert.ok(frames >= 40 && frames <= 46, `${frames} frames of 100`);
    assert.equal(distinct, frames);
  });

  it('a 5 fps source read at 10 fps gives its 20 frames, none doubled', async function () {
    const { frames, distinct } = await read(path.join(dir, 'slow.mkv'), 10);
    assert.equal(frames, 20);
    assert.equal(distinct, 20);
  });

  it('a 10 fps source in uneven pairs read at 10 fps keeps all 40 frames', async function () {
    const { frames, distinct } = await read(path.join(dir, 'pairs.mkv'), 10);
    assert.equal(frames, 40);
    assert.equal(distinct, 40);
  });
});

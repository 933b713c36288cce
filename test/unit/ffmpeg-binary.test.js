'use strict';
const assert = require('node:assert/strict');
const path = require('node:path');
const { locateFfmpeg, resolveFfmpeg, releaseOf, findOnPath } = require('../../dist/core/ffmpeg/binary');
const { ProcessPool } = require('../../dist/core/stream/pool');

describe('FFmpeg binary choice', function () {
  this.timeout(20000);
  let savedPath;
  beforeEach(function () {
    savedPath = process.env.PATH;
  });
  afterEach(function () {
    process.env.PATH = savedPath;
  });

  it('prefers the configured path, then PATH, then the bundled build', function () {
    const onPath = findOnPath('ffmpeg');
    assert.ok(onPath, 'CI installs ffmpeg on PATH');
    assert.deepEqual(locateFfmpeg(onPath), { path: onPath, origin: 'configured' });
    assert.deepEqual(locateFfmpeg(), { path: onPath, origin: 'path' });
    process.env.PATH = '/nonexistent';
    const bundled = locateFfmpeg();
    assert.equal(bundled.origin, 'bundled');
    assert.match(bundled.path, /@ffmpeg-installer/);
  });

  it('refuses a configured path that does not exist instead of silently falling back', function () {
    assert.throws(() => locateFfmpeg('/nope/ffmpeg'), /not found or not executable at the configured path "\/nope\/ffmpeg"/);
    assert.throws(() => locateFfmpeg(path.join(__dirname, '..', 'fixtures', 'tiny.jpg')), /not executable/);
  });

  it('tells the release from a version line, or from libavutil for git builds', function () {
    assert.deepEqual(releaseOf('ffmpeg version 5.1.9-0+deb12u1 Copyright'), { major: 5, minor: 1 });
    assert.deepEqual(releaseOf('ffmpeg version n6.1.1 Copyright'), { major: 6, minor: 1 });
    assert.deepEqual(releaseOf('ffmpeg version N-47683-g0e8eb07980-static\nlibavutil      56. 24.101 / 56. 24.101'), { major: 4, minor: 2 });
    assert.deepEqual(releaseOf('ffmpeg version N-1-gabc\nlibavutil      59.  8.100 / 59.  8.100'), { major: 7, minor: 0 });
    assert.equal(releaseOf('garbage'), undefined);
  });

  it('the bundled FFmpeg really streams frames when none is on PATH (the fresh-machine case)', async function () {
    process.env.PATH = '/nonexistent';
    const binary = await resolveFfmpeg();
    assert.equal(binary.origin, 'bundled');
    assert.ok(binary.release.major <= 4, 'the bundled build is old, so old-FFmpeg options are chosen');
    process.env.PATH = savedPath;
    const pool = new ProcessPool({ idleGraceMs: 0, ffmpegPath: binary.path });
    try {
      const lease = pool.acquire({ source: 'testsrc2=size=320x240:rate=10', fps: 10, quality: 5, gray: { width: 80, height: 60 } });
      const frame = await new Promise((r) => lease.capture.once('frame', r));
      const gray = frame.gray[0];
      assert.equal(frame.jpeg[0], 0xff);
      assert.equal(gray.width, 80);
      lease.release();
    } finally {
      await pool.close();
    }
  });
});

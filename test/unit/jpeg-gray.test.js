'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { decodeGray, GrayDecoder, LARGEST_DECODE_PIXELS } = require('../../dist/core/jpeg/jpeg-gray.js');
const { tempDir, ffmpeg } = require('../helpers/fixtures');

/** FFmpeg's gray output for the same JPEG (what a camera read through FFmpeg gives motion-detect). */
function ffmpegLuma(buf, w, h) {
  return execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'mjpeg', '-i', 'pipe:0', '-vf',
    `extractplanes=y,scale=w=${w}:h=${h}:force_original_aspect_ratio=decrease:flags=area,format=gray`, '-f', 'rawvideo', 'pipe:1'], { input: buf });
}

describe('decodeGray and GrayDecoder (sharp, shrink-on-load)', function () {
  let dir;
  const jpegs = {};

  before(function () {
    dir = tempDir('glimpser-gray-');
    for (const size of ['1280x720', '640x480', '360x640', '120x90']) {
      const file = path.join(dir, `${size}.jpg`);
      ffmpeg(['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=10`, '-frames:v', '1', '-q:v', '5', file]);
      jpegs[size] = fs.readFileSync(file);
    }
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('gives the JPEG\'s luma as FFmpeg\'s gray output does, fitting inside the box', async function () {
    const cases = [
      ['1280x720', { width: 240, height: 180 }, [240, 135]],
      ['640x480', { width: 240, height: 180 }, [240, 180]],
      ['360x640', { width: 240, height: 180 }, [101, 180]],
      ['1280x720', { width: 320, height: 240 }, [320, 180]],
      ['120x90', { width: 240, height: 180 }, [240, 180]], // enlarged, as motion-detect does
    ];
    for (const [size, box, [w, h]] of cases) {
      const got = await decodeGray(jpegs[size], box);
      assert.deepEqual([got.width, got.height], [w, h], `${size} in ${box.width}x${box.height}`);
      assert.equal(got.data.length, w * h, 'one byte per pixel');
      const [sw] = size.split('x').map(Number);
      if (sw < box.width) continue; // enlarging: the two scalers interpolate differently, nothing to compare
      const ref = ffmpegLuma(jpegs[size], box.width, box.height);
      if (ref.length !== got.data.length) continue; // rounding of the fitted size differs by a pixel
      let sum = 0;
      for (let i = 0; i < ref.length; i++) sum += Math.abs(ref[i] - got.data[i]);
      // Luma, not libvips' linear-light 'b-w' (44 levels off on this picture): only the scalers' rounding differs.
      assert.ok(sum / ref.length < 2, `${size}: mean difference from FFmpeg's luma ${(sum / ref.length).toFixed(2)}`);
    }
  });

  it('rejects a JPEG over the pixel limit, garbage and a truncated JPEG with an error, never a crash', async function () {
    const box = { width: 240, height: 180 };
    await assert.rejects(decodeGray(jpegs['1280x720'], box, 1280 * 720 - 1), /pixel limit/);
    await decodeGray(jpegs['1280x720'], box, 1280 * 720); // exactly at the limit is fine
    await assert.rejects(decodeGray(Buffer.from('<html>not a jpeg</html>'), box), /unsupported image format/);
    const full = jpegs['1280x720'];
    await assert.rejects(decodeGray(full.subarray(0, full.length >> 1), box), /premature end|truncated|corrupt/i);
    await assert.rejects(decodeGray('x', box), TypeError);
    for (const bad of [{ width: 0, height: 10 }, { width: 10.5, height: 10 }, { width: 10 }, null]) {
      await assert.rejects(decodeGray(full, bad), RangeError, JSON.stringify(bad));
    }
    await assert.rejects(decodeGray(full, box, 0), RangeError);
    assert.equal(LARGEST_DECODE_PIXELS, 8192 * 8192);
  });

  it('GrayDecoder runs one decode at a time and drops (counts) frames offered while busy', async function () {
    const dec = new GrayDecoder({ width: 240, height: 180 });
    const jpeg = jpegs['1280x720'];
    const first = dec.offer(jpeg);
    assert.equal(dec.busy, true);
    const offered = [dec.offer(jpeg), dec.offer(jpeg), dec.offer(jpeg)];
    assert.deepEqual(await Promise.all(offered), [undefined, undefined, undefined]);
    const img = await first;
    assert.deepEqual([img.width, img.height], [240, 135]);
    assert.equal(dec.busy, false);
    // Free again: the next offer decodes.
    const second = await dec.offer(jpeg);
    assert.ok(second.data.equals(img.data));
    await assert.rejects(dec.offer(Buffer.from('nope')), /unsupported image format/);
    assert.equal(dec.busy, false, 'a failed decode frees the decoder');
    assert.deepEqual({ ...dec.stats, lastMs: undefined }, { decoded: 2, dropped: 3, failed: 1, lastMs: undefined });
    assert.ok(dec.stats.lastMs > 0);
    assert.throws(() => new GrayDecoder({ width: 0, height: 1 }), RangeError);
    assert.throws(() => new GrayDecoder({ width: 8, height: 8 }, { maxPixels: -1 }), RangeError);
  });
});

'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const sharp = require('sharp');
const { encodeRaw, sharpQuality, JpegEncoder, FFMPEG_Q_TO_SHARP } = require('../../bench/lib/jpeg-encoder.js');
const { jpegView, jpegSize } = require('../../dist/core/jpeg/jpeg-info.js');
const { tempDir, ffmpeg } = require('../helpers/fixtures');

/** Decoded frames of an H.264 clip, as FFmpeg writes them for the raw capture path. */
function rawFrames(dir, { size, frames, pixFmt = 'rgb24', name }) {
  const [w, h] = size.split('x').map(Number);
  const clip = path.join(dir, `${name}.mp4`);
  ffmpeg(['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=10`, '-frames:v', String(frames), '-c:v', 'libx264', '-preset', 'veryfast',
    '-pix_fmt', 'yuv420p', clip]);
  const raw = path.join(dir, `${name}.raw`);
  ffmpeg(['-i', clip, '-f', 'rawvideo', '-pix_fmt', pixFmt, raw]);
  const channels = pixFmt === 'gray' ? 1 : 3;
  const bytes = w * h * channels;
  const all = fs.readFileSync(raw);
  const list = [];
  for (let i = 0; i < all.length; i += bytes) list.push(all.subarray(i, i + bytes));
  assert.equal(list.length, frames);
  return { clip, frames: list, width: w, height: h, channels };
}

/** Sampling factors per component from the SOF0 segment: [[id, h, v], ...]. */
function sampling(jpeg) {
  let i = 2;
  while (i + 4 < jpeg.length) {
    const marker = jpeg[i + 1];
    const len = jpeg.readUInt16BE(i + 2);
    if (marker === 0xc0 || marker === 0xc1) {
      const n = jpeg[i + 9];
      return Array.from({ length: n }, (_, c) => [jpeg[i + 10 + c * 3], jpeg[i + 11 + c * 3] >> 4, jpeg[i + 11 + c * 3] & 15]);
    }
    i += 2 + len;
  }
  throw new Error('no SOF0/SOF1');
}

async function meanAbsError(jpeg, raw, { gray = false } = {}) {
  const decoder = sharp(jpeg);
  if (gray) decoder.toColourspace('b-w');
  const { data } = await decoder.raw().toBuffer({ resolveWithObject: true });
  assert.equal(data.length, raw.length, 'decodes to as many samples as the source');
  let sum = 0;
  for (let i = 0; i < raw.length; i++) sum += Math.abs(data[i] - raw[i]);
  return sum / raw.length;
}

describe('jpeg-encoder (sharp on raw frames from FFmpeg)', function () {
  let dir;
  let hd; // 1280x720 rgb24
  let small; // 320x240 rgb24
  let gray; // 320x240 gray

  before(function () {
    dir = tempDir('glimpser-jpegenc-');
    hd = rawFrames(dir, { size: '1280x720', frames: 4, name: 'hd' });
    small = rawFrames(dir, { size: '320x240', frames: 12, name: 'small' });
    gray = rawFrames(dir, { size: '320x240', frames: 2, pixFmt: 'gray', name: 'gray' });
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('sharpQuality', function () {
    it('maps FFmpeg -q:v 2..31 to a falling sharp quality, rounding like buildArgs', function () {
      assert.equal(FFMPEG_Q_TO_SHARP.length, 30);
      for (let q = 3; q <= 31; q++) assert.ok(sharpQuality(q) <= sharpQuality(q - 1), `q ${q} is no better than q ${q - 1}`);
      assert.ok(sharpQuality(2) > sharpQuality(31));
      assert.equal(sharpQuality(5.4), sharpQuality(5));
      assert.equal(sharpQuality(4.6), sharpQuality(5));
      for (const bad of [1, 32, 1.4, NaN, Infinity, '5', undefined]) {
        assert.throws(() => sharpQuality(bad), /JPEG quality must be 2 \(best\) to 31 \(smallest\)/, String(bad));
      }
    });

    it('gives about the bytes per frame of FFmpeg\'s encoder at the same -q:v on the same frames', async function () {
      for (const q of [3, 5, 12, 25]) {
        const out = path.join(dir, `q${q}.mjpg`);
        ffmpeg(['-i', hd.clip, '-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p', '-q:v', String(q), '-f', 'mjpeg', out]);
        const ffBytes = fs.statSync(out).size;
        let ours = 0;
        for (const f of hd.frames) ours += (await encodeRaw(f, hd, sharpQuality(q))).length;
        const ratio = ours / ffBytes;
        assert.ok(ratio > 0.85 && ratio < 1.15, `q ${q}: sharp ${ours} bytes vs FFmpeg ${ffBytes} (ratio ${ratio.toFixed(3)})`);
      }
    });
  });

  describe('encodeRaw', function () {
    it('encodes an rgb24 frame to a JPEG of the frame\'s size, 4:2:0 like yuvj420p, close to the source', async function () {
      for (const src of [hd, small]) {
        const jpeg = await encodeRaw(src.frames[0], src, sharpQuality(5));
        assert.equal(jpegView(jpeg), jpeg, 'one complete JPEG, SOI..EOI');
        assert.deepEqual(jpegSize(jpeg), { width: src.width, height: src.height });
        assert.deepEqual(sampling(jpeg), [[1, 2, 2], [2, 1, 1], [3, 1, 1]], 'Y 2x2, Cb and Cr 1x1');
        const meta = await sharp(jpeg).metadata();
        assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ['jpeg', src.width, src.height, 3]);
        const mae = await meanAbsError(jpeg, src.frames[0]);
        assert.ok(mae < 4, `${src.width}x${src.height}: mean error ${mae.toFixed(2)} per sample`);
      }
    });

    it('encodes a gray frame to a one-component JPEG', async function () {
      const jpeg = await encodeRaw(gray.frames[1], gray, sharpQuality(5));
      assert.deepEqual(sampling(jpeg), [[1, 1, 1]]);
      const meta = await sharp(jpeg).metadata();
      assert.deepEqual([meta.width, meta.height, meta.channels], [320, 240, 1]);
      assert.ok((await meanAbsError(jpeg, gray.frames[1], { gray: true })) < 4);
    });

    it('FFmpeg decodes what it encodes, at the frame\'s size', async function () {
      const file = path.join(dir, 'ours.jpg');
      fs.writeFileSync(file, await encodeRaw(small.frames[3], small, sharpQuality(5)));
      const back = path.join(dir, 'back.rgb');
      ffmpeg(['-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgb24', back]);
      assert.equal(fs.statSync(back).size, 320 * 240 * 3);
    });

    it('rejects a frame of the wrong size, bad formats and qualities with clear errors', async function () {
      const f = small.frames[0];
      await assert.rejects(encodeRaw(f.subarray(1), small, 80), /raw frame has 230399 bytes, expected 230400 for 320x240x3/);
      await assert.rejects(encodeRaw(f, { ...small, channels: 4 }, 80), /channels must be 1 \(gray\) or 3 \(rgb24\)/);
      await assert.rejects(encodeRaw(f, { ...small, width: 0 }, 80), /frame size must be whole numbers/);
      await assert.rejects(encodeRaw(f, small, 0), /sharp quality must be 1 to 100/);
      await assert.rejects(encodeRaw('x', small, 80), /data must be a Buffer/);
    });
  });

  describe('JpegEncoder', function () {
    function collect(opts) {
      const out = { jpegs: [], errors: [], fallbacks: [], released: [] };
      const encoder = new JpegEncoder({
        width: small.width,
        height: small.height,
        quality: 5,
        onJpeg: (jpeg, index) => out.jpegs.push({ jpeg, index }),
        onError: (err, index) => out.errors.push({ err, index }),
        onFallback: (reason) => out.fallbacks.push(reason),
        ...opts,
      });
      const push = (data, index) => encoder.push(data, index, () => out.released.push(index));
      return { encoder, out, push };
    }

    it('delivers every frame in push order with its index, releasing each frame after its encode', async function () {
      const { encoder, out } = collect({ concurrency: 4, queue: 8 });
      const order = [];
      // Frames released only after sharp read them: a released buffer is overwritten here, which must not show.
      const copies = small.frames.map((f) => Buffer.from(f));
      copies.forEach((f, i) => encoder.push(f, i, () => {
        order.push(i);
        f.fill(0);
      }));
      await encoder.idle();
      assert.deepEqual(out.jpegs.map((j) => j.index), small.frames.map((_, i) => i));
      assert.equal(order.length, small.frames.length, 'every frame released once');
      assert.deepEqual(encoder.stats, { ...encoder.stats, encoded: 12, dropped: 0, failed: 0, refused: 0 });
      for (const { jpeg, index } of out.jpegs) {
        assert.ok((await meanAbsError(jpeg, small.frames[index])) < 4, `frame ${index} encodes its own picture`);
      }
    });

    it('holds back a frame that finished early until every frame pushed before it is delivered', async function () {
      // Frame 0 is noise (slow to encode: every coefficient costs bits), frames 1..3 flat gray (fast).
      const { width, height } = hd;
      const noise = Buffer.allocUnsafe(width * height * 3);
      for (let i = 0; i < noise.length; i++) noise[i] = (Math.imul(i, 2654435761) >>> 24) & 0xff;
      const flat = Buffer.alloc(width * height * 3, 128);
      // Which encode finishes first is up to the thread pool (a loaded machine may run them one by one): try until one
      // run finished out of order, checking the delivery order every time.
      const orders = [];
      for (let attempt = 0; attempt < 10 && !orders.some((o) => o[0] !== 0); attempt++) {
        const settled = [];
        const delivered = [];
        const encoder = new JpegEncoder({ width, height, quality: 5, concurrency: 4, queue: 0, onJpeg: (_, i) => delivered.push(i) });
        [noise, flat, flat, flat].forEach((f, i) => encoder.push(f, i, () => settled.push(i)));
        await encoder.idle();
        assert.deepEqual(delivered, [0, 1, 2, 3], `delivered in push order (finish order ${settled})`);
        orders.push(settled);
      }
      assert.ok(orders.some((o) => o[0] !== 0), `the noise frame finished after a flat one in some run (finish orders ${orders.join(' | ')})`);
    });

    it('keeps at most concurrency + queue frames: a full queue drops its oldest frame and counts it', async function () {
      const { encoder, out, push } = collect({ concurrency: 1, queue: 1 });
      small.frames.forEach((f, i) => push(f, i)); // all at once: the first encodes, the newest waits
      assert.equal(encoder.pending, 2);
      await encoder.idle();
      assert.deepEqual(out.jpegs.map((j) => j.index), [0, 11]);
      assert.equal(encoder.stats.dropped, 10);
      assert.equal(encoder.stats.encoded, 2);
      assert.deepEqual([...out.released].sort((a, b) => a - b), small.frames.map((_, i) => i), 'dropped frames released too');

      const none = collect({ concurrency: 2, queue: 0 });
      small.frames.slice(0, 5).forEach((f, i) => none.push(f, i));
      await none.encoder.idle();
      assert.deepEqual(none.out.jpegs.map((j) => j.index), [0, 1]);
      assert.equal(none.encoder.stats.dropped, 3);
    });

    it('signals the fallback after maxFailures failed encodes in a row, then refuses frames', async function () {
      const { encoder, out, push } = collect({ maxFailures: 3 });
      const bad = small.frames[0].subarray(0, 1000);
      push(bad, 0);
      await encoder.idle();
      push(small.frames[1], 1); // a good frame in between starts the count again
      await encoder.idle();
      for (let i = 2; i < 5; i++) {
        push(bad, i);
        await encoder.idle();
      }
      assert.deepEqual(out.errors.map((e) => e.index), [0, 2, 3, 4]);
      assert.match(out.errors[0].err.message, /raw frame has 1000 bytes, expected 230400/);
      assert.equal(out.fallbacks.length, 1);
      assert.match(out.fallbacks[0], /^3 JPEG encodes in a row failed \(last: raw frame has 1000 bytes.*\); FFmpeg encodes the JPEGs instead$/);
      assert.equal(encoder.fallback, out.fallbacks[0]);
      push(small.frames[5], 5);
      await encoder.idle();
      assert.deepEqual(out.jpegs.map((j) => j.index), [1]);
      assert.deepEqual({ failed: encoder.stats.failed, refused: encoder.stats.refused, encoded: encoder.stats.encoded }, { failed: 4, refused: 1, encoded: 1 });
      assert.deepEqual([...out.released].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5]);
    });

    it('falls back at the first frame where sharp is not installed (a copy of the module outside node_modules)', async function () {
      // The compiled module alone in a folder with no node_modules above it: its import('sharp') really fails.
      const lonely = tempDir('glimpser-nosharp-');
      try {
        fs.copyFileSync(path.join(__dirname, '../../bench/lib/jpeg-encoder.js'), path.join(lonely, 'jpeg-encoder.js'));
        const isolated = require(path.join(lonely, 'jpeg-encoder.js'));
        const fallbacks = [];
        const errors = [];
        const released = [];
        const encoder = new isolated.JpegEncoder({
          width: 320, height: 240, quality: 5,
          onJpeg: () => assert.fail('nothing can encode without sharp'),
          onError: (err) => errors.push(err),
          onFallback: (reason) => fallbacks.push(reason),
        });
        encoder.push(small.frames[0], 0, () => released.push(0));
        await encoder.idle();
        assert.equal(errors.length, 1);
        assert.equal(errors[0].name, 'SharpLoadError');
        assert.deepEqual(fallbacks, [encoder.fallback]);
        assert.match(fallbacks[0], /^sharp could not be loaded: .*sharp.*; FFmpeg encodes the JPEGs instead$/);
        encoder.push(small.frames[1], 1, () => released.push(1));
        assert.deepEqual(released, [0, 1]);
        assert.equal(encoder.stats.refused, 1);
      } finally {
        fs.rmSync(lonely, { recursive: true, force: true });
      }
    });

    it('close() drops waiting frames, lets the running encode finish and refuses later frames', async function () {
      const { encoder, out, push } = collect({ concurrency: 1, queue: 4 });
      small.frames.slice(0, 4).forEach((f, i) => push(f, i));
      await encoder.close();
      assert.deepEqual(out.jpegs.map((j) => j.index), [0]);
      assert.equal(encoder.stats.dropped, 3);
      push(small.frames[4], 4);
      assert.equal(encoder.stats.refused, 1);
      assert.deepEqual([...out.released].sort((a, b) => a - b), [0, 1, 2, 3, 4]);
    });

    it('refuses bad options with a clear error', function () {
      const base = { width: 320, height: 240, quality: 5, onJpeg: () => {} };
      assert.throws(() => new JpegEncoder({ ...base, onJpeg: undefined }), /onJpeg must be a function/);
      assert.throws(() => new JpegEncoder({ ...base, quality: 40 }), /JPEG quality must be 2/);
      assert.throws(() => new JpegEncoder({ ...base, width: 20000 }), /frame size must be whole numbers of pixels from 1 to 16384/);
      assert.throws(() => new JpegEncoder({ ...base, channels: 2 }), /channels must be 1 \(gray\) or 3/);
      assert.throws(() => new JpegEncoder({ ...base, concurrency: 5 }), /concurrency must be a whole number from 1 to 4/);
      assert.throws(() => new JpegEncoder({ ...base, queue: -1 }), /queue must be a whole number from 0 to 8/);
      assert.throws(() => new JpegEncoder({ ...base, maxFailures: 0 }), /maxFailures must be a whole number/);
      assert.equal(new JpegEncoder(base).sharpQuality, sharpQuality(5));
    });
  });
});

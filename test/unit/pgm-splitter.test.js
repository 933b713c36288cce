'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { PgmSplitter } = require('../../dist/core/jpeg/pgm-splitter.js');
const { tempDir, ffmpeg, prng, cut, own } = require('../helpers/fixtures');

const W = 64;
const H = 48;

function run(chunks, opts = {}) {
  const frames = [];
  const errors = [];
  const splitter = new PgmSplitter({
    onFrame: (data, width, height) => frames.push({ data, width, height }),
    onError: (m) => errors.push(m),
    ...opts,
  });
  for (const c of chunks) splitter.push(c);
  return { frames, errors, splitter };
}

function assertRasters(actual, expected, label, w = W, h = H) {
  assert.equal(actual.length, expected.length, `${label}: frame count`);
  for (let i = 0; i < expected.length; i++) {
    assert.equal(actual[i].width, w, `${label}: width`);
    assert.equal(actual[i].height, h, `${label}: height`);
    assert.ok(actual[i].data.equals(expected[i]), `${label}: raster ${i} differs`);
  }
}

function pgm(header, raster) {
  return Buffer.concat([Buffer.from(header, 'latin1'), raster]);
}

describe('PgmSplitter', function () {
  let dir;
  let stream; // what FFmpeg writes for -f image2pipe -c:v pgm
  let rasters; // the same frames as -f rawvideo gray: the expected output, independent of any PGM parsing

  before(function () {
    dir = tempDir('glimpser-pgm-');
    const pipeFile = path.join(dir, 'g.pgms');
    const rawFile = path.join(dir, 'g.gray');
    const src = `testsrc2=size=${W}x${H}:rate=10`;
    ffmpeg(['-f', 'lavfi', '-i', src, '-frames:v', '4', '-vf', 'format=gray', '-f', 'image2pipe', '-c:v', 'pgm', pipeFile,
      '-frames:v', '4', '-vf', 'format=gray', '-f', 'rawvideo', rawFile]);
    stream = fs.readFileSync(pipeFile);
    const raw = fs.readFileSync(rawFile);
    rasters = [];
    for (let i = 0; i < raw.length; i += W * H) rasters.push(raw.subarray(i, i + W * H));
    assert.equal(rasters.length, 4);
    assert.equal(stream.subarray(0, 13).toString('latin1'), `P5\n${W} ${H}\n255\n`, 'FFmpeg header as documented');
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('delivers every raster of a stream pushed as one chunk as views of that chunk (zero copy)', function () {
    const chunk = own(stream);
    const { frames, errors, splitter } = run([chunk]);
    assertRasters(frames, rasters, 'one chunk');
    for (const f of frames) assert.equal(f.data.buffer, chunk.buffer);
    assert.deepEqual(errors, []);
    assert.deepEqual(splitter.stats, { frames: 4, skippedBytes: 0, oversizeFrames: 0, errors: 0 });
  });

  it('is correct for a two-chunk split at every byte position, zero copy when the raster is whole in a chunk', function () {
    for (let p = 1; p < stream.length; p++) {
      const chunks = cut(stream, [p]);
      const { frames, errors } = run(chunks);
      assertRasters(frames, rasters, `split at ${p}`);
      assert.deepEqual(errors, []);
      for (const f of frames) {
        const inOne = chunks.some((c) => f.data.buffer === c.buffer);
        const start = stream.indexOf(f.data); // each raster is distinct in this fixture
        const whole = start + f.data.length <= p || start >= p;
        assert.equal(inOne, whole, `split ${p}: zero copy iff whole in one chunk`);
      }
    }
  });

  it('is correct with 1-byte and random chunk sizes', function () {
    const ones = [];
    for (let i = 1; i < stream.length; i++) ones.push(i);
    assertRasters(run(cut(stream, ones)).frames, rasters, '1-byte chunks');
    const rnd = prng(7);
    for (let round = 0; round < 200; round++) {
      const positions = [];
      const max = 1 + Math.floor(rnd() * 5000);
      for (let p = 1 + Math.floor(rnd() * max); p < stream.length; p += 1 + Math.floor(rnd() * max)) positions.push(p);
      assertRasters(run(cut(stream, positions)).frames, rasters, `random ${round}`);
    }
  });

  it('accepts comments and any netpbm whitespace in the header, at every split position', function () {
    const header = `P5 # made by hand\r\n${W}\t#w\n${H}\x0b\x0c# two comments\r255\n`;
    const input = Buffer.concat([pgm(header, rasters[0]), pgm(`P5\n${W} ${H}\n255\t`, rasters[1])]);
    for (let p = 1; p < header.length + 4; p++) {
      const { frames, errors } = run(cut(input, [p]));
      assertRasters(frames, rasters.slice(0, 2), `split ${p}`);
      assert.deepEqual(errors, []);
    }
  });

  it('reports garbage once, counts it and resynchronises on the next P5, at every split of the garbage', function () {
    // Garbage with a lone 'P' at its end and a 'P' followed by something else.
    const garbage = Buffer.from('xyzPQ\x00\xffP', 'latin1');
    const input = Buffer.concat([garbage, stream]);
    for (let p = 1; p < garbage.length + 6; p++) {
      const { frames, errors, splitter } = run(cut(input, [p]));
      assertRasters(frames, rasters, `split ${p}`);
      assert.equal(errors.length, 1, `one error at split ${p}`);
      assert.match(errors[0], /unexpected data in PGM stream/);
      assert.equal(splitter.stats.skippedBytes, garbage.length, `skipped at split ${p}`);
    }
  });

  it('reports a bad header and resynchronises on the next P5 found after it', function () {
    const cases = [
      [`P5\nabc ${H}\n255\n`, /expected a number for width/],
      [`P5${W} ${H}\n255\n`, /no whitespace before width/],
      [`P5\n${W} ${H}\n255X`, /maxval not followed by whitespace/],
      [`P5\n0 ${H}\n255\n`, /empty image/],
      [`P5\n123456789 ${H}\n255\n`, /width too large/],
      [`P5\n${W} ${H} #${'c'.repeat(2000)}\n255\n`, /longer than 1024 bytes/],
    ];
    for (const [bad, re] of cases) {
      const input = Buffer.concat([Buffer.from(bad, 'latin1'), stream]);
      for (const positions of [[], [1], [2], [bad.length - 1], [bad.length + 1]]) {
        const { frames, errors } = run(cut(input, positions));
        assertRasters(frames, rasters, `${JSON.stringify(bad.slice(0, 20))} cut ${positions}`);
        assert.equal(errors.length, 1, `one error for ${JSON.stringify(bad.slice(0, 20))} cut ${positions}: ${errors}`);
        assert.match(errors[0], re);
        assert.match(errors[0], /resynchronising/);
      }
    }
  });

  it('finds the real header right after a bad one, whether the bad one is seen in its own chunk or after a carry', function () {
    // "P5 P5\n64 48\n255\n": the first header is bad (a 'P' where the width should be), the second is real.
    // Split at 1..3 the bad header is carried and only judged when the next chunk arrives.
    const input = Buffer.concat([Buffer.from('P5 '), stream]);
    for (let p = 1; p < 20; p++) {
      const { frames, errors, splitter } = run(cut(input, [p]));
      assertRasters(frames, rasters, `split ${p}`);
      assert.equal(errors.length, 1);
      assert.match(errors[0], /expected a number for width/);
      assert.equal(splitter.stats.skippedBytes, 3, `skipped at split ${p}`);
    }
  });

  it('skips a refused image (maxval not 255, or over the cap) exactly, even when its raster looks like a header', function () {
    // The refused raster contains a valid-looking PGM header: a resync by scanning would wrongly lock onto it.
    const trap = Buffer.alloc(W * H, 0x11);
    Buffer.from(`P5\n1 1\n255\n`).copy(trap, 100);
    const refusedMaxval = pgm(`P5\n${W} ${H}\n100\n`, trap);
    const input = Buffer.concat([refusedMaxval, stream]);
    for (const positions of [[], [5], [200], [refusedMaxval.length - 1]]) {
      const { frames, errors, splitter } = run(cut(input, positions));
      assertRasters(frames, rasters, `maxval cut ${positions}`);
      assert.equal(errors.length, 1);
      assert.match(errors[0], /maxval 100 not supported/);
      assert.equal(splitter.stats.skippedBytes, refusedMaxval.length);
    }

    const small = pgm(`P5\n4 2\n255\n`, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]));
    const input2 = Buffer.concat([pgm(`P5\n${W} ${H}\n255\n`, trap), small]);
    const { frames, errors, splitter } = run(cut(input2, [50]), { maxFrameBytes: 100 });
    assertRasters(frames, [Buffer.from([1, 2, 3, 4, 5, 6, 7, 8])], 'after oversize', 4, 2);
    assert.equal(errors.length, 1);
    assert.match(errors[0], /exceeds the 100-byte limit/);
    assert.equal(splitter.stats.oversizeFrames, 1);
    assert.equal(splitter.stats.skippedBytes, input2.length - small.length);
  });

  it('reports again after a good frame, but not twice within one run of trouble', function () {
    const input = Buffer.concat([Buffer.from('junk'), Buffer.from(`P5\nx`), Buffer.from('more junk'), pgm(`P5\n${W} ${H}\n255\n`, rasters[0]), Buffer.from('junk again'), pgm(`P5\n${W} ${H}\n255\n`, rasters[1])]);
    const { frames, errors, splitter } = run([input]);
    assertRasters(frames, rasters.slice(0, 2), 'mixed');
    assert.equal(errors.length, 2);
    assert.equal(splitter.stats.errors, 4);
  });

  it('reset() drops a partial header or raster', function () {
    for (const at of [1, 5, 20, 500]) {
      const frames = [];
      const splitter = new PgmSplitter({ onFrame: (d) => frames.push(d) });
      splitter.push(Buffer.from(stream.subarray(0, at)));
      splitter.reset();
      splitter.push(Buffer.from(stream));
      assert.equal(frames.length, rasters.length, `reset after ${at} bytes`);
      assert.equal(splitter.stats.skippedBytes, at);
    }
  });

  it('validates its options', function () {
    assert.throws(() => new PgmSplitter({}), TypeError);
    assert.throws(() => new PgmSplitter({ onFrame() {}, maxFrameBytes: 0 }), RangeError);
  });
});

'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { JpegSplitter } = require('../../dist/core/jpeg/jpeg-splitter.js');
const { tempDir, recordMjpeg, prng, cut, own, assertFrames } = require('../helpers/fixtures');

function run(chunks, opts = {}) {
  const frames = [];
  const oversize = [];
  const splitter = new JpegSplitter({ onFrame: (f) => frames.push(f), onOversize: (n) => oversize.push(n), ...opts });
  for (const c of chunks) splitter.push(c);
  return { frames, oversize, splitter };
}

/** Positions of every FF D8 / FF D9 in the recorded stream (each frame's boundaries). */
function markerPositions(buf) {
  const out = [];
  for (const m of [Buffer.from([0xff, 0xd8]), Buffer.from([0xff, 0xd9])]) {
    for (let i = buf.indexOf(m); i !== -1; i = buf.indexOf(m, i + 1)) out.push(i);
  }
  return out.sort((a, b) => a - b);
}

describe('JpegSplitter', function () {
  let dir;
  let rec;

  before(function () {
    dir = tempDir('glimpser-jpeg-');
    rec = recordMjpeg(dir, { frames: 6, q: 5 });
    // The fixture must be what FFmpeg writes: its image2 files concatenated are byte-identical to the mjpeg stream.
    assert.ok(Buffer.concat(rec.frames).equals(rec.stream), 'image2 frames concatenate to the mjpeg stream');
    assert.equal(rec.frames.length, 6);
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('delivers every frame of a stream pushed as one chunk, as views of that chunk (zero copy)', function () {
    const chunk = own(rec.stream);
    const { frames, splitter } = run([chunk]);
    assertFrames(frames, rec.frames, 'one chunk');
    let offset = 0;
    for (const f of frames) {
      assert.equal(f.buffer, chunk.buffer, 'frame shares the chunk memory');
      assert.equal(f.byteOffset, chunk.byteOffset + offset);
      offset += f.length;
    }
    assert.deepEqual(splitter.stats, { frames: 6, skippedBytes: 0, oversizeFrames: 0 });
  });

  it('is correct for a two-chunk split at every byte position', function () {
    const s = rec.stream;
    for (let p = 1; p < s.length; p++) {
      const { frames, splitter } = run(cut(s, [p]));
      assertFrames(frames, rec.frames, `split at ${p}`);
      assert.equal(splitter.stats.skippedBytes, 0, `skipped at split ${p}`);
    }
  });

  it('is correct for three-chunk splits in and around every SOI and EOI marker, incl. a lone FF chunk', function () {
    const s = rec.stream;
    let cases = 0;
    for (const m of markerPositions(s)) {
      for (let a = m - 2; a <= m + 2; a++) {
        for (let b = a + 1; b <= a + 3; b++) {
          if (a <= 0 || b >= s.length) continue;
          const { frames, splitter } = run(cut(s, [a, b]));
          assertFrames(frames, rec.frames, `cuts ${a},${b}`);
          assert.equal(splitter.stats.skippedBytes, 0);
          cases++;
        }
      }
    }
    assert.ok(cases > 100, `ran ${cases} marker cases`);
  });

  it('is correct with 1-byte chunks and with random chunk sizes', function () {
    const s = rec.stream;
    const ones = [];
    for (let i = 1; i < s.length; i++) ones.push(i);
    assertFrames(run(cut(s, ones)).frames, rec.frames, '1-byte chunks');

    const rnd = prng(42);
    for (let round = 0; round < 200; round++) {
      const positions = [];
      const maxChunk = 1 + Math.floor(rnd() * 20000);
      for (let p = 1 + Math.floor(rnd() * maxChunk); p < s.length; p += 1 + Math.floor(rnd() * maxChunk)) positions.push(p);
      assertFrames(run(cut(s, positions)).frames, rec.frames, `random round ${round}`);
    }
  });

  it('concatenates a frame spanning chunks into one new Buffer, keeps single-chunk frames as views', function () {
    const s = rec.stream;
    const firstEnd = rec.frames[0].length;
    // Chunk A: frame 0 whole + half of frame 1; chunk B: rest.
    const cutAt = firstEnd + 100;
    const [a, b] = cut(s, [cutAt]);
    const { frames } = run([a, b]);
    assertFrames(frames, rec.frames, 'span');
    assert.equal(frames[0].buffer, a.buffer, 'frame 0 is a view of chunk A');
    assert.notEqual(frames[1].buffer, a.buffer, 'frame 1 is not a view of chunk A');
    assert.notEqual(frames[1].buffer, b.buffer, 'frame 1 is not a view of chunk B');
    assert.equal(frames[2].buffer, b.buffer, 'frame 2 is a view of chunk B');
  });

  it('skips and counts garbage before the first SOI and between frames, at every split of the garbage', function () {
    // Garbage full of near-markers: a stray EOI, FF FF, a trailing FF right before the real SOI.
    const garbage = Buffer.from([0x00, 0xff, 0xd9, 0x12, 0xff, 0xff, 0x34, 0xd8, 0xff, 0x00, 0xff]);
    const middle = Buffer.from([0xff, 0xd9, 0xab, 0xff]);
    const input = Buffer.concat([garbage, rec.frames[0], rec.frames[1], middle, ...rec.frames.slice(2)]);
    for (let p = 1; p < garbage.length + 8; p++) {
      const { frames, splitter } = run(cut(input, [p]));
      assertFrames(frames, rec.frames, `garbage split ${p}`);
      assert.equal(splitter.stats.skippedBytes, garbage.length + middle.length, `skipped at split ${p}`);
    }
    const midStart = garbage.length + rec.frames[0].length + rec.frames[1].length;
    for (let p = midStart - 3; p < midStart + middle.length + 3; p++) {
      const { frames, splitter } = run(cut(input, [p]));
      assertFrames(frames, rec.frames, `middle split ${p}`);
      assert.equal(splitter.stats.skippedBytes, garbage.length + middle.length, `skipped at middle split ${p}`);
    }
  });

  it('drops oversize frames without buffering them, reports them and resynchronises on the next SOI', function () {
    const sizes = rec.frames.map((f) => f.length);
    const max = Math.floor((Math.min(...sizes) + Math.max(...sizes)) / 2);
    const small = rec.frames.filter((f) => f.length <= max);
    const big = rec.frames.filter((f) => f.length > max);
    assert.ok(small.length >= 1 && big.length >= 1, 'fixture has frames on both sides of the cap');
    // Interleave big and small frames, starting with a big one.
    const order = [];
    for (let i = 0; i < Math.max(small.length, big.length); i++) {
      if (big[i]) order.push(big[i]);
      if (small[i]) order.push(small[i]);
    }
    const input = Buffer.concat(order);
    const bigBytes = big.reduce((n, f) => n + f.length, 0);
    for (const chunkSize of [input.length, 4096, 1000, 7, 1]) {
      const positions = [];
      for (let p = chunkSize; p < input.length; p += chunkSize) positions.push(p);
      const { frames, oversize, splitter } = run(cut(input, positions), { maxFrameBytes: max });
      assertFrames(frames, small, `chunk ${chunkSize}`);
      assert.equal(oversize.length, big.length, `oversize calls at chunk ${chunkSize}`);
      for (const n of oversize) {
        assert.ok(n > max, 'reported size is over the cap');
        // Dropped as soon as the cap is passed: never more than one chunk beyond it (whole frame if it was in one chunk).
        assert.ok(chunkSize >= input.length || n <= max + chunkSize, `dropped late: ${n} > ${max} + ${chunkSize}`);
      }
      assert.equal(splitter.stats.oversizeFrames, big.length);
      assert.equal(splitter.stats.skippedBytes, bigBytes, `skipped bytes at chunk ${chunkSize}`);
      assert.equal(splitter.stats.frames, small.length);
    }
  });

  it('resynchronises on an SOI whose FF ends the chunk in which an oversize frame was dropped', function () {
    const f = rec.frames[0];
    const junk = Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(f.length + 10, 0x11)]); // an SOI that never ends
    for (const tail of [f, Buffer.concat([Buffer.from([0xff, 0x00]), f])]) {
      // Chunk 1: the oversize start plus the FF of the next SOI (or a stray FF); chunk 2: the rest.
      const input = Buffer.concat([junk, tail]);
      const { frames, oversize, splitter } = run(cut(input, [junk.length + 1]), { maxFrameBytes: f.length });
      assertFrames(frames, [f], 'after oversize');
      assert.deepEqual(oversize, [junk.length + 1]);
      assert.equal(splitter.stats.skippedBytes, input.length - f.length, `skipped with tail ${tail.length - f.length}`);
    }
  });

  it('reset() drops a truncated frame so the next process output starts clean', function () {
    const half = Buffer.from(rec.frames[0].subarray(0, rec.frames[0].length >> 1));
    const frames = [];
    const splitter = new JpegSplitter({ onFrame: (f) => frames.push(f) });
    splitter.push(half);
    splitter.reset();
    splitter.push(Buffer.from(rec.stream));
    assertFrames(frames, rec.frames, 'after reset');
    assert.equal(splitter.stats.skippedBytes, half.length);

    // Without reset the truncated head would be glued to the next frame: the reason reset() exists.
    const glued = run([half, Buffer.from(rec.stream)]).frames;
    assert.equal(glued.length, rec.frames.length);
    assert.ok(!glued[0].equals(rec.frames[0]));
  });

  it('reset() also forgets a pending FF at a chunk end', function () {
    const frames = [];
    const splitter = new JpegSplitter({ onFrame: (f) => frames.push(f) });
    splitter.push(Buffer.from([0x01, 0xff]));
    splitter.reset();
    // A D8 right after the reset is not an SOI: the FF before it belonged to the old process.
    splitter.push(Buffer.concat([Buffer.from([0xd8, 0x00]), rec.frames[0]]));
    assertFrames(frames, [rec.frames[0]], 'after reset with pending FF');
    assert.equal(splitter.stats.skippedBytes, 4);
  });

  it('ignores empty chunks and validates its options', function () {
    const { frames } = run([Buffer.alloc(0), Buffer.from(rec.stream), Buffer.alloc(0)]);
    assert.equal(frames.length, rec.frames.length);
    assert.throws(() => new JpegSplitter({}), TypeError);
    assert.throws(() => new JpegSplitter({ onFrame() {}, maxFrameBytes: 0 }), RangeError);
    assert.throws(() => new JpegSplitter({ onFrame() {}, maxFrameBytes: Number.NaN }), RangeError);
  });

  it('splits real FFmpeg output at the extreme qualities (-q:v 2 and 31) exactly like FFmpeg\'s own image2 files', function () {
    for (const q of [2, 31]) {
      const r = recordMjpeg(dir, { size: '640x360', frames: 5, q, name: `q${q}` });
      const positions = [];
      for (let p = 65536; p < r.stream.length; p += 65536) positions.push(p);
      const { frames, splitter } = run(cut(r.stream, positions));
      assertFrames(frames, r.frames, `q ${q}`);
      assert.equal(splitter.stats.skippedBytes, 0);
    }
  });
});

'use strict';
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { RawFrameSplitter } = require('../../bench/lib/raw-frame-splitter.js');
const { tempDir, ffmpeg, prng, cut, own, assertFrames } = require('../helpers/fixtures');

/**
 * Real rgb24 frames from FFmpeg, each written to its own file by the image2 muxer, so the expected frames do not
 * come from cutting a stream the way the splitter does; and the same frames as one -f rawvideo stream.
 */
function record(dir, { size, frames, name }) {
  const [w, h] = size.split('x').map(Number);
  const src = `testsrc2=size=${size}:rate=10`;
  const stream = path.join(dir, `${name}.rgb`);
  ffmpeg(['-f', 'lavfi', '-i', src, '-frames:v', String(frames), '-pix_fmt', 'rgb24', '-f', 'rawvideo', stream,
    '-frames:v', String(frames), '-pix_fmt', 'rgb24', '-c:v', 'rawvideo', '-f', 'image2', path.join(dir, `${name}-%03d.rgb`)]);
  const files = fs.readdirSync(dir).filter((f) => f.startsWith(`${name}-`)).sort();
  return { stream: fs.readFileSync(stream), frames: files.map((f) => fs.readFileSync(path.join(dir, f))), frameBytes: w * h * 3 };
}

/** Pushes `chunks` and returns copies of the delivered frames (views may point into chunks the test reuses). */
function run(chunks, frameBytes, opts = {}) {
  const got = [];
  const splitter = new RawFrameSplitter({
    frameBytes,
    onFrame: (f) => {
      got.push({ data: Buffer.from(f.data), index: f.index, view: chunks.some((c) => c.buffer === f.data.buffer) });
      f.release();
    },
    ...opts,
  });
  for (const c of chunks) splitter.push(c);
  return { got, splitter };
}

describe('RawFrameSplitter', function () {
  let dir;
  let small; // 64x48 rgb24, 4 frames of 9216 bytes
  let tiny; // 8x6 rgb24, 3 frames of 144 bytes: small enough to try every pair of cut positions

  before(function () {
    dir = tempDir('glimpser-raw-');
    small = record(dir, { size: '64x48', frames: 4, name: 'small' });
    tiny = record(dir, { size: '8x6', frames: 3, name: 'tiny' });
    assert.equal(small.frames.length, 4);
    assert.equal(small.stream.length, 4 * small.frameBytes);
    assert.equal(tiny.stream.length, 3 * tiny.frameBytes);
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('delivers frames inside one chunk as views of it (zero copy)', function () {
    const chunk = own(small.stream);
    const { got, splitter } = run([chunk], small.frameBytes);
    assertFrames(got, small.frames, 'one chunk');
    assert.ok(got.every((f) => f.view), 'every frame is a view of the chunk');
    assert.deepEqual(splitter.stats, { frames: 4, views: 4, reused: 0, allocated: 0, droppedBytes: 0 });
  });

  it('cuts correctly at every split position of the stream', function () {
    const { stream, frames, frameBytes } = small;
    for (let p = 0; p <= stream.length; p++) {
      const chunks = cut(stream, [p]);
      const { got, splitter } = run(chunks, frameBytes);
      assertFrames(got, frames, `split at ${p}`);
      // Frames that lie wholly inside one of the two chunks are views; only the one the cut runs through is copied.
      const spanning = p % frameBytes === 0 ? 0 : 1;
      assert.equal(splitter.stats.views, frames.length - spanning, `split at ${p}: views`);
      assert.equal(splitter.stats.reused + splitter.stats.allocated, spanning, `split at ${p}: copies`);
      got.forEach((f, i) => {
        const inFirst = (i + 1) * frameBytes <= p;
        const inSecond = i * frameBytes >= p;
        assert.equal(f.view, inFirst || inSecond, `split at ${p}: frame ${i} view`);
      });
      assert.equal(splitter.pendingBytes, 0);
    }
  });

  it('cuts correctly at every pair of split positions', function () {
    const { stream, frames, frameBytes } = tiny;
    for (let a = 0; a <= stream.length; a++) {
      for (let b = a; b <= stream.length; b++) {
        const { got } = run(cut(stream, [a, b]), frameBytes);
        assertFrames(got, frames, `split at ${a},${b}`);
      }
    }
  });

  it('cuts correctly one byte at a time and in random chunkings', function () {
    const { stream, frames, frameBytes } = small;
    const bytes = [];
    for (let i = 1; i < stream.length; i++) bytes.push(i);
    assertFrames(run(cut(stream, bytes), frameBytes).got, frames, 'one byte at a time');
    for (let seed = 1; seed <= 50; seed++) {
      const rnd = prng(seed);
      const positions = [];
      for (let p = Math.floor(rnd() * 3000); p < stream.length; p += 1 + Math.floor(rnd() * 12000)) positions.push(p);
      assertFrames(run(cut(stream, positions), frameBytes).got, frames, `seed ${seed}`);
    }
  });

  it('reuses released frame buffers and never hands out a buffer that is still held', function () {
    const { stream, frames, frameBytes } = small;
    const positions = [];
    for (let p = 1000; p < stream.length; p += 1000) positions.push(p);
    positions.push(2 * frameBytes);
    positions.sort((a, b) => a - b);
    const chunks = cut(stream, positions);
    const firstTwo = positions.indexOf(2 * frameBytes) + 1; // chunks holding exactly frames 0 and 1
    const held = [];
    const splitter = new RawFrameSplitter({ frameBytes, pool: 2, onFrame: (f) => held.push(f) });
    for (const c of chunks.slice(0, firstTwo)) splitter.push(c);
    assert.equal(held.length, 2);
    assert.notEqual(held[0].data.buffer, held[1].data.buffer, 'two held frames, two buffers');
    held[0].release();
    held[0].release(); // twice: must not put the buffer in the free list twice
    for (const c of chunks.slice(firstTwo)) splitter.push(c);
    assert.equal(held.length, 4);
    // Frame 2 reused frame 0's buffer; frame 3 could not take it again (still lent as frame 2), so it was allocated.
    assert.equal(held[2].data.buffer, held[0].data.buffer);
    assert.notEqual(held[3].data.buffer, held[2].data.buffer);
    assert.notEqual(held[3].data.buffer, held[1].data.buffer);
    assert.deepEqual({ reused: splitter.stats.reused, allocated: splitter.stats.allocated }, { reused: 1, allocated: 3 });
    // Held frames were not overwritten by later ones.
    assert.ok(held[1].data.equals(frames[1]), 'held frame 1 intact');
    assert.ok(held[2].data.equals(frames[2]), 'frame 2 in the reused buffer');
    assert.ok(held[3].data.equals(frames[3]), 'frame 3 in a new buffer');
  });

  it('keeps at most `pool` free buffers and allocates every spanning frame with pool 0', function () {
    const { stream, frameBytes } = small;
    // Every frame spans two chunks.
    const positions = [1, frameBytes + 1, 2 * frameBytes + 1, 3 * frameBytes + 1];
    const frames = [];
    let releaseAtOnce = false;
    const pooled = new RawFrameSplitter({
      frameBytes,
      pool: 1,
      onFrame: (f) => (releaseAtOnce ? f.release() : frames.push(f)),
    });
    for (const c of cut(stream, positions)) pooled.push(c);
    assert.equal(frames.length, 4);
    assert.equal(pooled.stats.allocated, 4, 'four frames held at once: four buffers');
    for (const f of frames) f.release(); // four buffers back, only one kept
    releaseAtOnce = true;
    for (const c of cut(stream, positions)) pooled.push(c);
    assert.deepEqual({ reused: pooled.stats.reused, allocated: pooled.stats.allocated }, { reused: 4, allocated: 4 },
      'the one kept buffer served every later frame in turn');

    const unpooled = run(cut(stream, positions), frameBytes, { pool: 0 }).splitter;
    assert.deepEqual({ reused: unpooled.stats.reused, allocated: unpooled.stats.allocated }, { reused: 0, allocated: 4 });
  });

  it('reset() drops a partial frame, counts it and starts over at index 0', function () {
    const { stream, frames, frameBytes } = small;
    const got = [];
    const splitter = new RawFrameSplitter({ frameBytes, onFrame: (f) => got.push({ data: Buffer.from(f.data), index: f.index }) });
    splitter.push(own(stream.subarray(0, frameBytes + 100))); // frame 0 and 100 bytes of frame 1
    assert.equal(splitter.pendingBytes, 100);
    splitter.reset();
    assert.equal(splitter.stats.droppedBytes, 100);
    assert.equal(splitter.pendingBytes, 0);
    // A new process starts its byte stream afresh: without the reset every frame would be shifted by 100 bytes.
    for (const c of cut(stream, [5000, 20000])) splitter.push(c);
    assert.equal(got.length, 5);
    assert.deepEqual(got.map((f) => f.index), [0, 0, 1, 2, 3]);
    got.slice(1).forEach((f, i) => assert.ok(f.data.equals(frames[i]), `after reset: frame ${i}`));
    splitter.reset(); // at a frame boundary: nothing dropped
    assert.equal(splitter.stats.droppedBytes, 100);
  });

  it('splits a live FFmpeg rawvideo pipe into the frames FFmpeg wrote to files', async function () {
    const size = '320x240';
    const count = 12;
    const expected = record(dir, { size, frames: count, name: 'live' });
    const child = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=10`,
      '-frames:v', String(count), '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const got = [];
    let chunks = 0;
    const splitter = new RawFrameSplitter({
      frameBytes: expected.frameBytes,
      onFrame: (f) => {
        got.push({ data: Buffer.from(f.data), index: f.index });
        f.release();
      },
    });
    child.stdout.on('data', (c) => {
      chunks++;
      splitter.push(c);
    });
    const code = await new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    assert.equal(code, 0);
    assertFrames(got, expected.frames, 'live pipe');
    assert.ok(chunks > count, `frames of ${expected.frameBytes} bytes arrive in more reads than frames (${chunks})`);
    // Each frame is released in onFrame, before the next frame's first bytes arrive: one buffer serves them all.
    assert.equal(splitter.stats.allocated, 1, 'one buffer allocated');
    assert.equal(splitter.stats.reused, count - 1 - splitter.stats.views);
  });

  it('refuses bad options with a clear error', function () {
    const onFrame = () => {};
    assert.throws(() => new RawFrameSplitter({ frameBytes: 100 }), /onFrame must be a function/);
    for (const frameBytes of [0, -1, 1.5, NaN, undefined, 2 ** 40]) {
      assert.throws(() => new RawFrameSplitter({ frameBytes, onFrame }), /frameBytes must be a whole number/, String(frameBytes));
    }
    for (const pool of [-1, 0.5, 1000]) {
      assert.throws(() => new RawFrameSplitter({ frameBytes: 10, onFrame, pool }), /pool must be a whole number/, String(pool));
    }
  });
});

'use strict';
// Camera quirks in multipart MJPEG that FFmpeg's mpjpeg output never shows: each recovered (frames intact, counted
// in `quirks`) or skipped (counted by kind in `errorsByKind`), with bounded buffering.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { MultipartJpegSplitter } = require('../../dist/core/jpeg/multipart-splitter.js');
const { tempDir, recordMpjpeg, prng, cut, assertFrames } = require('../helpers/fixtures');

const B = 'cam';

function part(body, { boundary = B, headers, dashes = '--' } = {}) {
  const h = headers ?? ['Content-Type: image/jpeg', `Content-Length: ${body.length}`];
  return Buffer.concat([Buffer.from(`${dashes}${boundary}\r\n${h.map((x) => `${x}\r\n`).join('')}\r\n`, 'latin1'), body, Buffer.from('\r\n')]);
}

function run(chunks, opts = {}) {
  const frames = [];
  const errors = [];
  const oversize = [];
  const splitter = new MultipartJpegSplitter({
    boundary: B, onFrame: (f) => frames.push(Buffer.from(f)), onError: (m, kind) => errors.push({ m, kind }), onOversize: (n) => oversize.push(n), ...opts,
  });
  for (const c of chunks) splitter.push(c);
  return { frames, errors, oversize, splitter };
}

const NO_ERRORS = { 'not-jpeg': 0, truncated: 0, 'bad-header': 0, oversize: 0 };

/** Two-chunk splits at every position in [from, to), and one run of random chunk sizes. */
function splits(input, from, to, seed = 1) {
  const out = [];
  for (let p = Math.max(1, from); p < Math.min(to, input.length); p++) out.push({ label: `split ${p}`, chunks: cut(input, [p]) });
  const rnd = prng(seed);
  const positions = [];
  for (let p = 1 + Math.floor(rnd() * 500); p < input.length; p += 1 + Math.floor(rnd() * 500)) positions.push(p);
  out.push({ label: 'random chunks', chunks: cut(input, positions) });
  out.push({ label: 'one chunk', chunks: [input] });
  return out;
}

describe('MultipartJpegSplitter: camera quirks', function () {
  let dir;
  let f;

  before(function () {
    dir = tempDir('glimpser-quirks-');
    f = recordMpjpeg(dir, { frames: 5, q: 5 }).frames;
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a declared boundary that starts with -- and is written as declared: adopted from the first line', function () {
    // Content-Type: multipart/x-mixed-replace; boundary=--myboundary, parts delimited by `--myboundary`.
    const input = Buffer.concat(f.map((x) => part(x, { boundary: '--myboundary', dashes: '' })));
    for (const { label, chunks } of splits(input, 1, 40)) {
      const { frames, errors, splitter } = run(chunks, { boundary: '--myboundary' });
      assertFrames(frames, f, label);
      assert.deepEqual(errors, [], label);
      assert.equal(splitter.quirks['boundary-dashes'], 1, label);
      assert.equal(splitter.boundary, 'myboundary');
      assert.equal(splitter.stats.skippedBytes, 0, label);
    }
    // Declared with dashes and written by the RFC (`----myboundary`): nothing to adopt.
    const strict = Buffer.concat(f.map((x) => part(x, { boundary: '--myboundary' })));
    const { frames, splitter } = run([strict], { boundary: '--myboundary' });
    assertFrames(frames, f, 'strict');
    assert.equal(splitter.quirks['boundary-dashes'], 0);
    assert.equal(splitter.boundary, '--myboundary');
  });

  it('no boundary declared (boundaryFromStream): the first delimiter line names it', function () {
    const input = Buffer.concat(f.map((x) => part(x, { boundary: 'BoundaryString' })));
    for (const { label, chunks } of splits(input, 1, 30)) {
      const { frames, errors, splitter } = run(chunks, { boundary: 'placeholder', boundaryFromStream: true });
      assertFrames(frames, f, label);
      assert.deepEqual(errors, []);
      assert.equal(splitter.boundary, 'BoundaryString');
      assert.equal(splitter.quirks['boundary-from-stream'], 1);
    }
    // Without the option another boundary is not adopted: its parts are a preamble.
    assert.equal(run([input]).frames.length, 0);
    // After a reset the named boundary stays: the same producer starts again.
    const after = [];
    const s2 = new MultipartJpegSplitter({ boundary: 'placeholder', boundaryFromStream: true, onFrame: (x) => after.push(x) });
    s2.push(input);
    s2.reset();
    s2.push(input);
    assert.equal(after.length, 2 * f.length);
    assert.equal(s2.quirks['boundary-from-stream'], 1);
  });

  it('no delimiter before the first part: headers first, or the JPEG itself first', function () {
    const headersFirst = Buffer.concat([
      Buffer.from(`Content-Type: image/jpeg\r\nContent-Length: ${f[0].length}\r\n\r\n`), f[0], Buffer.from('\r\n'),
      ...f.slice(1).map((x) => part(x)),
    ]);
    for (const { label, chunks } of splits(headersFirst, 1, 60)) {
      const { frames, errors, splitter } = run(chunks);
      assertFrames(frames, f, `headers first, ${label}`);
      assert.deepEqual(errors, []);
      assert.equal(splitter.quirks['no-first-boundary'], 1);
      assert.equal(splitter.stats.skippedBytes, 0, label);
    }
    const jpegFirst = Buffer.concat([f[0], Buffer.from('\r\n'), ...f.slice(1).map((x) => part(x))]);
    for (const { label, chunks } of splits(jpegFirst, 1, 4)) {
      const { frames, errors, splitter } = run(chunks);
      assertFrames(frames, f, `JPEG first, ${label}`);
      assert.deepEqual(errors, []);
      assert.equal(splitter.quirks['no-first-boundary'], 1);
    }
    // A preamble is still a preamble: skipped up to the first delimiter, no quirk.
    const preamble = Buffer.concat([Buffer.from('This is a multipart stream\r\n'), ...f.map((x) => part(x))]);
    const { frames, splitter } = run([preamble]);
    assertFrames(frames, f, 'preamble');
    assert.equal(splitter.quirks['no-first-boundary'], 0);
    assert.equal(splitter.stats.skippedBytes, 'This is a multipart stream'.length);
  });

  it('a repeated delimiter line, and a blank line then the delimiter, lose no frame', function () {
    const input = Buffer.concat([
      Buffer.from(`--${B}\r\n`), part(f[0]), // repeated before the headers
      Buffer.from(`--${B}\r\nX-Junk: 1\r\n`), part(f[1]), // a header, then the delimiter again
      Buffer.from(`--${B}\r\n\r\n`), part(f[2]), // an empty part
      part(f[3]), Buffer.from('\r\n'), part(f[4]), // a blank line between parts
    ]);
    for (const { label, chunks } of splits(input, 1, 30)) {
      const { frames, errors, splitter } = run(chunks);
      assertFrames(frames, f, label);
      assert.deepEqual(errors, [], label);
      assert.deepEqual(splitter.errorsByKind, NO_ERRORS, label);
      assert.equal(splitter.quirks['repeated-boundary'], 2, label);
    }
  });

  it('header lines without a space after the colon, in any case', function () {
    const input = Buffer.concat(f.map((x, i) => part(x, { headers: i % 2 ? ['content-type:image/jpeg', `CONTENT-LENGTH:${x.length}`] : [`Content-Length:${x.length}`] })));
    const { frames, errors } = run(cut(input, [7, 100, 5000]));
    assertFrames(frames, f, 'no space');
    assert.deepEqual(errors, []);
  });

  it('a part that is not a JPEG, with and without Content-Length, is counted as not-jpeg', function () {
    const html = Buffer.from('<html><body>Too many viewers</body></html>');
    const input = Buffer.concat([
      part(f[0]),
      part(html, { headers: ['Content-Type: text/html', `Content-Length: ${html.length}`] }),
      part(f[1]),
      part(html, { headers: ['Content-Type: text/html'] }),
      part(f[2], { headers: ['Content-Type: image/jpeg'] }),
    ]);
    for (const { label, chunks } of splits(input, 1, 0)) {
      const { frames, errors, splitter } = run(chunks);
      assertFrames(frames, f.slice(0, 3), label);
      assert.deepEqual(errors.map((e) => e.kind), ['not-jpeg', 'not-jpeg'], label);
      assert.deepEqual(splitter.errorsByKind, { ...NO_ERRORS, 'not-jpeg': 2 });
      assert.equal(splitter.stats.errors, 2);
    }
  });

  it('a truncated part (the next delimiter comes early) loses only itself and is counted as truncated', function () {
    const short = f[1].subarray(0, 3000);
    const input = Buffer.concat([
      part(f[0]),
      // Declares the full length, sends 3000 bytes, then the next part.
      Buffer.concat([Buffer.from(`--${B}\r\nContent-Length: ${f[1].length}\r\n\r\n`), short, Buffer.from('\r\n')]),
      part(f[2]),
      part(short, { headers: ['Content-Type: image/jpeg'] }), // no Content-Length, JPEG cut short
      part(f[3], { headers: [] }),
    ]);
    for (const { label, chunks } of splits(input, 1, 0)) {
      const { frames, errors, splitter } = run(chunks);
      assertFrames(frames, [f[0], f[2], f[3]], label);
      assert.deepEqual(errors.map((e) => e.kind), ['truncated', 'truncated'], label);
      assert.deepEqual(splitter.errorsByKind, { ...NO_ERRORS, truncated: 2 });
    }
  });

  it('reset() says whether it cut a JPEG short (a dropped connection), not when it fell between parts', function () {
    const s = Buffer.concat(f.map((x) => part(x)));
    const bodyStart = s.indexOf(f[0]);
    const cases = [
      [5, false], // inside the delimiter line
      [bodyStart - 2, false], // inside the headers
      [bodyStart + 100, true], // inside a body with Content-Length
      [bodyStart + f[0].length + 4, false], // after a whole part
    ];
    for (const [at, expected] of cases) {
      const frames = [];
      const splitter = new MultipartJpegSplitter({ boundary: B, onFrame: (x) => frames.push(x) });
      splitter.push(Buffer.from(s.subarray(0, at)));
      assert.equal(splitter.reset(), expected, `cut at ${at}`);
      splitter.push(Buffer.from(s));
      assert.equal(frames.length, f.length + (at > bodyStart + f[0].length ? 1 : 0), `frames after a reset at ${at}`);
      assert.equal(splitter.stats.errors, 0);
    }
    const noLength = Buffer.concat(f.map((x) => part(x, { headers: [] })));
    const splitter = new MultipartJpegSplitter({ boundary: B, onFrame: () => undefined });
    splitter.push(Buffer.from(noLength.subarray(0, noLength.indexOf(f[0]) + 100)));
    assert.equal(splitter.reset(), true, 'inside a JPEG without Content-Length');
  });

  it('a part far over the cap is dropped while its bytes arrive, with and without Content-Length', function () {
    const cap = 20000;
    const junkJpeg = Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(10 * cap, 0x11), Buffer.from([0xff, 0xd9])]);
    const small = f.filter((x) => x.length <= cap);
    assert.ok(small.length >= 2, 'test frames fit the cap');
    for (const headers of [undefined, ['Content-Type: image/jpeg']]) {
      const input = Buffer.concat([part(small[0]), part(junkJpeg, headers ? { headers } : {}), part(small[1])]);
      const chunkSize = 1000;
      let pushed = 0;
      let reportedAt = -1;
      const frames = [];
      const splitter = new MultipartJpegSplitter({
        boundary: B, maxFrameBytes: cap, onFrame: (x) => frames.push(x), onOversize: () => { reportedAt = pushed; },
      });
      for (const c of cut(input, Array.from({ length: Math.ceil(input.length / chunkSize) - 1 }, (_, i) => (i + 1) * chunkSize))) {
        pushed += c.length;
        splitter.push(c);
      }
      const label = headers ? 'without Content-Length' : 'with Content-Length';
      assertFrames(frames, small.slice(0, 2), label);
      assert.equal(splitter.errorsByKind.oversize, 1, label);
      assert.equal(splitter.stats.errors, 0, `${label}: an oversize part is not also a bad part`);
      // Reported (and buffering stopped) within one chunk of the cap, long before the part ended.
      const partStart = input.indexOf(junkJpeg);
      assert.ok(reportedAt > 0 && reportedAt <= partStart + cap + 2 * chunkSize, `${label}: reported at ${reportedAt}`);
    }
  });
});

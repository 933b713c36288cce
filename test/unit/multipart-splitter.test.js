'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const sharp = require('sharp');
const mjpegServer = require('mjpeg-server');
const { MultipartJpegSplitter, boundaryFromContentType, FFMPEG_BOUNDARY } = require('../../dist/core/jpeg/multipart-splitter.js');
const { JpegSplitter } = require('../../dist/core/jpeg/jpeg-splitter.js');
const { MultipartWriter } = require('../../dist/core/jpeg/multipart-writer.js');
const { tempDir, recordMpjpeg, prng, cut, own, assertFrames } = require('../helpers/fixtures');

function run(chunks, opts = {}) {
  const frames = [];
  const oversize = [];
  const errors = [];
  const splitter = new MultipartJpegSplitter({
    onFrame: (f) => frames.push(f), onOversize: (n) => oversize.push(n), onError: (m) => errors.push(m), ...opts,
  });
  for (const c of chunks) splitter.push(c);
  return { frames, oversize, errors, splitter };
}

/** One part as FFmpeg's mpjpeg muxer and most cameras write it: delimiter line, headers, blank line, body, CRLF. */
function part(body, { boundary = 'ffmpeg', headers } = {}) {
  const h = headers ?? [`Content-type: image/jpeg`, `Content-length: ${body.length}`];
  return Buffer.concat([Buffer.from(`--${boundary}\r\n${h.map((x) => `${x}\r\n`).join('')}\r\n`, 'latin1'), body, Buffer.from('\r\n')]);
}

/** Chunk positions every `size` bytes. */
function every(size, total) {
  const out = [];
  for (let p = size; p < total; p += size) out.push(p);
  return out;
}

/** [start, end) of every byte outside the JPEG bodies: delimiters, headers, CRLFs. */
function framingRanges(stream, frames) {
  const ranges = [];
  let pos = 0;
  for (const f of frames) {
    const at = stream.indexOf(f, pos);
    assert.ok(at >= pos);
    ranges.push([pos, at]);
    pos = at + f.length;
  }
  ranges.push([pos, stream.length]);
  return ranges;
}

/**
 * A JPEG whose APP1 segment holds a second complete JPEG (as an EXIF thumbnail does): an SOI..EOI splitter ends
 * the outer image at the thumbnail's EOI.
 */
function withThumbnail(outer, thumb) {
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), thumb]);
  const app1 = Buffer.alloc(4);
  app1[0] = 0xff;
  app1[1] = 0xe1;
  app1.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([outer.subarray(0, 2), app1, payload, outer.subarray(2)]);
}

describe('MultipartJpegSplitter', function () {
  let dir;
  let rec;

  before(function () {
    dir = tempDir('glimpser-mp-');
    rec = recordMpjpeg(dir, { frames: 6, q: 5 });
    assert.equal(rec.frames.length, 6);
    // What FFmpeg's mpjpeg muxer writes, byte for byte: the splitter's contract with production.
    const expected = Buffer.concat([
      Buffer.from('--ffmpeg\r\n'),
      ...rec.frames.map((f) => Buffer.concat([
        Buffer.from(`Content-type: image/jpeg\r\nContent-length: ${f.length}\r\n\r\n`), f, Buffer.from('\r\n--ffmpeg\r\n'),
      ])),
    ]);
    assert.ok(rec.stream.equals(expected), 'mpjpeg layout as documented');
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('delivers every frame of a stream pushed as one chunk, as views of that chunk (zero copy)', function () {
    const chunk = own(rec.stream);
    const { frames, splitter, errors } = run([chunk]);
    assertFrames(frames, rec.frames, 'one chunk');
    for (const f of frames) {
      assert.equal(f.buffer, chunk.buffer, 'frame shares the chunk memory');
      assert.ok(chunk.subarray(f.byteOffset - chunk.byteOffset, f.byteOffset - chunk.byteOffset + f.length).equals(f));
    }
    assert.deepEqual(errors, []);
    assert.deepEqual(splitter.stats, { frames: 6, skippedBytes: 0, oversizeFrames: 0, errors: 0, fallbackParts: 0 });
  });

  it('is correct for a two-chunk split at every byte position', function () {
    const s = rec.stream;
    for (let p = 1; p < s.length; p++) {
      const { frames, splitter } = run(cut(s, [p]));
      assertFrames(frames, rec.frames, `split at ${p}`);
      assert.equal(splitter.stats.skippedBytes, 0, `skipped at split ${p}`);
      assert.equal(splitter.stats.errors, 0, `errors at split ${p}`);
    }
  });

  it('is correct for three-chunk splits at every pair of positions inside the boundary, header and CRLF bytes', function () {
    const s = rec.stream;
    let cases = 0;
    for (const [start, end] of framingRanges(s, rec.frames)) {
      for (let a = Math.max(1, start - 1); a <= Math.min(end, s.length - 1); a++) {
        for (let b = a + 1; b <= Math.min(end + 1, s.length - 1); b++) {
          const { frames, splitter } = run(cut(s, [a, b]));
          assertFrames(frames, rec.frames, `cuts ${a},${b}`);
          assert.equal(splitter.stats.skippedBytes, 0, `skipped at cuts ${a},${b}`);
          cases++;
        }
      }
    }
    assert.ok(cases > 10000, `ran ${cases} framing cases`);
  });

  it('is correct with 1-byte chunks and with random chunk sizes', function () {
    const s = rec.stream;
    assertFrames(run(cut(s, every(1, s.length))).frames, rec.frames, '1-byte chunks');
    const rnd = prng(7);
    for (let round = 0; round < 200; round++) {
      const positions = [];
      const maxChunk = 1 + Math.floor(rnd() * 20000);
      for (let p = 1 + Math.floor(rnd() * maxChunk); p < s.length; p += 1 + Math.floor(rnd() * maxChunk)) positions.push(p);
      const { frames, splitter } = run(cut(s, positions));
      assertFrames(frames, rec.frames, `random round ${round}`);
      assert.equal(splitter.stats.skippedBytes, 0);
    }
  });

  it('copies a frame spanning chunks once into a Buffer of exactly its size, keeps single-chunk frames as views', function () {
    const s = rec.stream;
    const secondStart = s.indexOf(rec.frames[1]);
    const [a, b, c] = cut(s, [secondStart + 100, secondStart + 200]);
    const { frames } = run([a, b, c]);
    assertFrames(frames, rec.frames, 'span');
    assert.equal(frames[0].buffer, a.buffer, 'frame 0 is a view of chunk A');
    for (const chunk of [a, b, c]) assert.notEqual(frames[1].buffer, chunk.buffer, 'frame 1 is its own copy');
    assert.equal(frames[1].byteOffset, 0);
    assert.equal(frames[1].buffer.byteLength, rec.frames[1].length, 'no spare capacity');
    assert.equal(frames[2].buffer, c.buffer, 'frame 2 is a view of chunk C');
  });

  it('skips and counts garbage before the first part and between parts, at every split of the garbage', function () {
    // Garbage with near-delimiters: a CRLF and dashes, a truncated boundary, a longer boundary, a lone CR at the end.
    // The first part's delimiter needs its CRLF after a preamble (RFC 2046): garbage ends in one.
    const garbage = Buffer.from('junk\r\n--ffmp\r\n-ffmpeg \r\r\n', 'latin1');
    const middle = Buffer.from('\r\n--ffmpegX no\r\nxx\r\n', 'latin1');
    const parts = rec.frames.map((f) => part(f));
    const input = Buffer.concat([garbage, parts[0], parts[1], middle, ...parts.slice(2)]);
    const midStart = garbage.length + parts[0].length + parts[1].length;
    const positions = [];
    for (let p = 1; p < garbage.length + 30; p++) positions.push(p);
    for (let p = midStart - 30; p < midStart + middle.length + 30; p++) positions.push(p);
    for (const p of positions) {
      const { frames, splitter, errors } = run(cut(input, [p]));
      assertFrames(frames, rec.frames, `garbage split ${p}`);
      assert.deepEqual(errors, [], `no bad part at split ${p}`);
      // Framing, not skipped: the CRLF of the first delimiter, and the false delimiter `\r\n--ffmpeg` in the middle.
      assert.equal(splitter.stats.skippedBytes, garbage.length - 2 + middle.length - '\r\n--ffmpeg'.length, `skipped at split ${p}`);
    }
  });

  it('loses only the part with a wrong Content-Length, reports it and resynchronises (too long and too short)', function () {
    const f = rec.frames;
    for (const delta of [+100, -100, +1, -1, +f[2].length + 50]) {
      const bad = part(f[1], { headers: ['Content-Type: image/jpeg', `Content-Length: ${f[1].length + delta}`] });
      const input = Buffer.concat([part(f[0]), bad, ...f.slice(2).map((x) => part(x))]);
      for (const size of [input.length, 65536, 4096, 1000, 7]) {
        const { frames, splitter, errors } = run(cut(input, every(size, input.length)));
        // Even a length that runs into the next part loses only its own: the failed body is searched for a delimiter.
        const expected = [f[0], ...f.slice(2)];
        assertFrames(frames, expected, `delta ${delta} chunk ${size}`);
        assert.equal(splitter.stats.errors, 1, `delta ${delta} chunk ${size}`);
        assert.equal(errors.length, 1);
        assert.match(errors[0], /not a JPEG/);
      }
    }
  });

  it('reports a body that is not a JPEG without buffering its declared length', function () {
    const notJpeg = Buffer.alloc(5000, 0x41);
    const input = Buffer.concat([part(rec.frames[0]), part(notJpeg), part(rec.frames[1])]);
    for (const size of [input.length, 1000, 1]) {
      const { frames, splitter } = run(cut(input, every(size, input.length)));
      assertFrames(frames, rec.frames.slice(0, 2), `chunk ${size}`);
      assert.equal(splitter.stats.errors, 1);
      assert.equal(splitter.stats.skippedBytes, notJpeg.length, 'the bad body, nothing else');
    }
  });

  it('reset() drops a truncated part so the next process output starts clean', function () {
    const s = rec.stream;
    for (const cutAt of [5, 30, s.indexOf(rec.frames[0]) + 500]) {
      const frames = [];
      const splitter = new MultipartJpegSplitter({ onFrame: (f) => frames.push(f) });
      splitter.push(Buffer.from(s.subarray(0, cutAt)));
      splitter.reset();
      splitter.push(Buffer.from(s));
      assertFrames(frames, rec.frames, `truncated at ${cutAt}, then reset`);
      assert.equal(splitter.stats.errors, 0);
      assert.ok(splitter.stats.skippedBytes > 0 && splitter.stats.skippedBytes <= cutAt, `skipped ${splitter.stats.skippedBytes} of ${cutAt}`);
    }
    // After the body of a truncated part, reset() counts the partial body exactly.
    const bodyStart = s.indexOf(rec.frames[0]);
    const splitter = new MultipartJpegSplitter({ onFrame: () => undefined });
    splitter.push(Buffer.from(s.subarray(0, bodyStart + 500)));
    splitter.reset();
    assert.equal(splitter.stats.skippedBytes, 500);
  });

  it('delivers a JPEG with an embedded thumbnail whole, where the SOI/EOI splitter cuts it at the thumbnail', async function () {
    const thumbRec = recordMpjpeg(dir, { size: '64x48', frames: 1, name: 'thumb' });
    const big = withThumbnail(rec.frames[0], thumbRec.frames[0]);
    const meta = await sharp(big).metadata();
    assert.deepEqual([meta.width, meta.height], [320, 240], 'the outer image is what decoders see');
    await sharp(big).raw().toBuffer(); // and it decodes
    const input = Buffer.concat([part(rec.frames[1]), part(big), part(rec.frames[2])]);

    const old = [];
    const js = new JpegSplitter({ onFrame: (f) => old.push(f) });
    js.push(Buffer.concat([rec.frames[1], big, rec.frames[2]]));
    assert.ok(!old.some((f) => f.equals(big)), 'the old splitter never delivers the full frame');
    assert.ok(old.some((f) => f.length < big.length && big.subarray(0, f.length).equals(f)), 'it cuts it at the thumbnail EOI');

    for (const size of [input.length, 4096, 13]) {
      const { frames, splitter } = run(cut(input, every(size, input.length)));
      assertFrames(frames, [rec.frames[1], big, rec.frames[2]], `chunk ${size}`);
      assert.equal(splitter.stats.skippedBytes, 0);
    }
  });

  it('drops a part over the cap as soon as its header is read, reports it and resynchronises', function () {
    const f = rec.frames;
    const max = Math.floor((Math.min(...f.map((x) => x.length)) + Math.max(...f.map((x) => x.length))) / 2);
    const small = f.filter((x) => x.length <= max);
    const big = f.filter((x) => x.length > max);
    assert.ok(small.length && big.length);
    const input = Buffer.concat(f.map((x) => part(x)));
    for (const size of [input.length, 4096, 1]) {
      const { frames, oversize, splitter } = run(cut(input, every(size, input.length)), { maxFrameBytes: max });
      assertFrames(frames, small, `chunk ${size}`);
      assert.deepEqual(oversize, big.map((x) => x.length));
      assert.equal(splitter.stats.oversizeFrames, big.length);
      assert.equal(splitter.stats.skippedBytes, big.reduce((n, x) => n + x.length, 0));
    }
    // Reported before any of the body arrived: nothing of it is buffered.
    const seen = [];
    const s = new MultipartJpegSplitter({ onFrame: () => undefined, maxFrameBytes: 100, onOversize: (n) => seen.push(n) });
    s.push(Buffer.from('--ffmpeg\r\nContent-Length: 999999\r\n\r\n'));
    assert.deepEqual(seen, [999999]);
  });

  it('reports garbled headers, bad lengths and endless headers, and resynchronises on the next part', function () {
    const f = rec.frames;
    const bads = [
      [part(f[1], { headers: ['this line has no colon'] }), /garbled/],
      [part(f[1], { headers: ['Content-Length: 12x'] }), /bad Content-Length/],
      [part(f[1], { headers: ['Content-Length: -5'] }), /bad Content-Length/],
      [part(f[1], { headers: [`Content-Length: ${f[1].length}`, 'Content-Length: 7'] }), /bad Content-Length/],
      [part(f[1], { headers: ['Content-Length: 2'] }), /too small/],
      [part(f[1], { headers: [`X-Long: ${'a'.repeat(9000)}`] }), /longer than/],
      [Buffer.concat([Buffer.from(`--ffmpeg\r\n${'z'.repeat(20000)}`), Buffer.from('\r\n')]), /longer than/],
    ];
    for (const [bad, re] of bads) {
      const input = Buffer.concat([part(f[0]), bad, part(f[2])]);
      for (const size of [input.length, 999, 1]) {
        const { frames, errors } = run(cut(input, every(size, input.length)));
        assertFrames(frames, [f[0], f[2]], `${re} chunk ${size}`);
        assert.equal(errors.length, 1, `${re} chunk ${size}: ${errors}`);
        assert.match(errors[0], re);
      }
    }
    // The header (the delimiter line's CRLF + this line) passes the cap exactly at its LF, and its CR ended the chunk: that CR starts the delimiter.
    const head = Buffer.concat([part(f[0]), Buffer.from(`--ffmpeg\r\n${'z'.repeat(8189)}\r`)]);
    const { frames, errors } = run([head, Buffer.concat([Buffer.from('\n'), part(f[2])])]);
    assertFrames(frames, [f[0], f[2]], 'CR at the cap');
    assert.equal(errors.length, 1);
  });

  it('parses header names case-insensitively, ignores other headers, accepts a close delimiter and a new stream after it', function () {
    const f = rec.frames;
    const input = Buffer.concat([
      part(f[0], { headers: ['CONTENT-LENGTH:' + f[0].length, 'X-Timestamp: 123'] }),
      part(f[1], { headers: ['content-type: image/jpeg', `content-length:   ${f[1].length}  `] }),
      Buffer.from('--ffmpeg--\r\nepilogue\r\n'),
      part(f[2]),
    ]);
    const { frames, errors, splitter } = run(cut(input, every(3, input.length)));
    assertFrames(frames, f.slice(0, 3), 'mixed');
    assert.deepEqual(errors, []);
    // The CRLF after the epilogue belongs to the next delimiter.
    assert.equal(splitter.stats.skippedBytes, 'epilogue'.length);
  });

  it('splits parts without Content-Length by SOI/EOI (camera fallback), mixed with parts that have one', function () {
    const f = rec.frames;
    const input = Buffer.concat([
      part(f[0], { boundary: 'cam', headers: ['Content-Type: image/jpeg'] }),
      part(f[1], { boundary: 'cam' }),
      part(f[2], { boundary: 'cam', headers: ['Content-Type: image/jpeg'] }),
      part(f[3], { boundary: 'cam', headers: [] }),
    ]);
    const rnd = prng(3);
    for (let round = 0; round < 100; round++) {
      const positions = [];
      for (let p = 1 + Math.floor(rnd() * 3000); p < input.length; p += 1 + Math.floor(rnd() * 3000)) positions.push(p);
      const { frames, splitter, errors } = run(cut(input, positions), { boundary: 'cam' });
      assertFrames(frames, f.slice(0, 4), `round ${round}`);
      assert.deepEqual(errors, []);
      assert.equal(splitter.stats.fallbackParts, 3);
      assert.equal(splitter.stats.skippedBytes, 0, 'the CRLF after each image is the delimiter\'s');
    }
    // Every split inside the framing of a fallback part.
    const one = Buffer.concat([part(f[0], { boundary: 'cam', headers: [] }), part(f[1], { boundary: 'cam', headers: [] })]);
    for (let p = f[0].length - 5; p < f[0].length + 30; p++) {
      assertFrames(run(cut(one, [p]), { boundary: 'cam' }).frames, f.slice(0, 2), `fallback split ${p}`);
    }
    // A part whose JPEG is cut short by the next delimiter is dropped, not glued to the next one.
    const cutShort = Buffer.concat([part(f[0].subarray(0, 3000), { boundary: 'cam', headers: [] }), part(f[1], { boundary: 'cam', headers: [] })]);
    assertFrames(run([cutShort], { boundary: 'cam' }).frames, [f[1]], 'cut short');
  });

  it('takes the boundary from a Content-Type header value', function () {
    assert.equal(boundaryFromContentType('multipart/x-mixed-replace; boundary=myboundary'), 'myboundary');
    assert.equal(boundaryFromContentType('multipart/x-mixed-replace;boundary="--my boundary";charset=x'), '--my boundary');
    assert.equal(boundaryFromContentType('multipart/x-mixed-replace; BOUNDARY = abc ; x=1'), 'abc');
    assert.equal(boundaryFromContentType('image/jpeg'), undefined);
    assert.equal(boundaryFromContentType('multipart/x-mixed-replace; boundary=""'), undefined);
    assert.equal(FFMPEG_BOUNDARY, 'ffmpeg');
    const f = rec.frames;
    const input = Buffer.concat(f.map((x) => part(x, { boundary: '--my boundary' })));
    const { frames } = run(cut(input, every(1000, input.length)), { boundary: boundaryFromContentType('multipart/x-mixed-replace; boundary="--my boundary"') });
    assertFrames(frames, f, 'quoted boundary with dashes and a space');
    // With another boundary the parts are garbage.
    assert.equal(run([input]).frames.length, 0);
  });

  it('reads a real MJPEG-over-HTTP camera stream (npm mjpeg-server) with the boundary from its Content-Type', async function () {
    const f = rec.frames;
    const server = http.createServer((req, res) => {
      const cam = mjpegServer.createReqHandler(req, res);
      for (const x of f) cam.write(x);
      cam.end();
      cam.on('finish', () => cam.close());
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { frames, splitter } = await new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: server.address().port, path: '/' }, (res) => {
          const boundary = boundaryFromContentType(res.headers['content-type']);
          const out = [];
          const s = new MultipartJpegSplitter({ boundary, onFrame: (x) => out.push(Buffer.from(x)) });
          res.on('data', (c) => s.push(c));
          res.on('end', () => resolve({ frames: out, splitter: s }));
          res.on('error', reject);
        }).on('error', reject);
      });
      assertFrames(frames, f, 'mjpeg-server');
      assert.equal(splitter.boundary, 'myboundary');
      assert.equal(splitter.stats.skippedBytes, 0);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('reads the multipart stream our own mjpeg-out writes', function () {
    const w = new MultipartWriter();
    const input = Buffer.concat(rec.frames.map((x, i) => w.part(x, i, 0, i === 2).bytes));
    const { frames, splitter } = run(cut(input, every(4096, input.length)), { boundary: boundaryFromContentType(w.contentType()) });
    assertFrames(frames, rec.frames, 'MultipartWriter');
    assert.equal(splitter.stats.skippedBytes, 0);
  });

  it('splits real FFmpeg mpjpeg output at -q:v 2 and 31, and the bundled 2018 FFmpeg\'s, exactly like image2 files', function () {
    const cases = [{ q: 2 }, { q: 31 }];
    let bundled;
    try {
      bundled = require('@ffmpeg-installer/ffmpeg').path;
    } catch {
      bundled = undefined;
    }
    if (bundled && fs.existsSync(bundled)) cases.push({ q: 5, bin: bundled });
    for (const { q, bin } of cases) {
      const r = recordMpjpeg(dir, { size: '640x360', frames: 5, q, bin, name: `q${q}${bin ? 'b' : ''}` });
      const { frames, splitter } = run(cut(r.stream, every(65536, r.stream.length)));
      assertFrames(frames, r.frames, `q ${q} ${bin ?? 'ffmpeg'}`);
      assert.equal(splitter.stats.skippedBytes, 0);
    }
  });

  it('ignores empty chunks and validates its options', function () {
    const { frames } = run([Buffer.alloc(0), Buffer.from(rec.stream), Buffer.alloc(0)]);
    assert.equal(frames.length, rec.frames.length);
    assert.throws(() => new MultipartJpegSplitter({}), TypeError);
    assert.throws(() => new MultipartJpegSplitter({ onFrame() {}, maxFrameBytes: 3 }), RangeError);
    assert.throws(() => new MultipartJpegSplitter({ onFrame() {}, maxFrameBytes: Number.NaN }), RangeError);
    for (const boundary of ['', 'a\r\nb', 'x'.repeat(71), 'trailing ', 'a;b']) {
      assert.throws(() => new MultipartJpegSplitter({ onFrame() {}, boundary }), RangeError, JSON.stringify(boundary));
    }
  });
});

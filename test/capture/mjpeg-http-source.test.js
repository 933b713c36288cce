'use strict';
// MjpegHttpSource against real local HTTP(S) cameras of ours on 127.0.0.1, serving real FFmpeg JPEGs.
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { MjpegHttpSource, DEFAULT_MJPEG_HTTP } = require('../../dist/core/capture/mjpeg-http-source.js');
const { tempDir, recordMpjpeg, assertFrames } = require('../helpers/fixtures');
const { until, delay } = require('../helpers/procs');
const { startCamera, serveFrames, part } = require('../helpers/mjpeg-camera');

const FAST = {
  backoff: { baseMs: 20, capMs: 100, jitter: 0 },
  maxRetries: 5,
  failedRetryMs: 60_000,
  connectTimeoutMs: 5000,
  firstFrameTimeoutMs: 5000,
  stallTimeoutMs: 5000,
};

const PASSWORD = 'S3cr3t pw!@';
const USER = 'admin';

/** Writes `chunks` one every 5 ms, then keeps the response open. */
function script(chunks, contentType = 'multipart/x-mixed-replace; boundary=cam') {
  return (req, res, cam) => {
    res.writeHead(200, { 'Content-Type': contentType });
    cam.every(res, 5, (i) => {
      if (i >= chunks.length) return false;
      res.write(chunks[i]); // backpressure is the client's to show: it must not stop the script
      return true;
    });
  };
}

/** Every text a user or a log could see, for secret checks. */
function visibleText(src, states) {
  return JSON.stringify({ states, lastError: src.stats.lastError, recent: src.recentErrors(), url: src.displayUrl, stats: src.stats });
}

describe('MjpegHttpSource (local cameras on 127.0.0.1)', function () {
  this.timeout(20000);
  let dir;
  let f;
  const cams = [];
  const sources = [];

  async function camera(handler, opts) {
    const cam = await startCamera(handler, opts);
    cams.push(cam);
    return cam;
  }

  /** A started source with its frames, states and connects recorded. */
  function source(opts) {
    const src = new MjpegHttpSource({ ...FAST, ...opts });
    sources.push(src);
    const rec = { src, frames: [], states: [], connects: 0 };
    src.on('frame', (jpeg) => rec.frames.push(jpeg));
    src.on('state', (state, reason) => rec.states.push([state, reason]));
    src.on('connect', () => rec.connects++);
    src.start();
    return rec;
  }

  before(function () {
    dir = tempDir('glimpser-mjpeg-http-');
    f = recordMpjpeg(dir, { size: '640x360', frames: 8, q: 5 }).frames;
  });

  afterEach(async function () {
    await Promise.all(sources.splice(0).map((s) => s.stop()));
    await Promise.all(cams.splice(0).map((c) => c.close()));
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('passes the camera\'s JPEGs through byte for byte: starting, then healthy on the first frame', async function () {
    const cam = await camera(serveFrames(f, { ms: 10 }));
    const r = source({ url: `${cam.url}/video.cgi` });
    assert.equal(r.src.state, 'starting');
    await until(() => r.frames.length >= 2 * f.length, 'two rounds of frames');
    for (let i = 0; i < r.frames.length; i++) assert.ok(r.frames[i].equals(f[i % f.length]), `frame ${i} is the one served`);
    assert.deepEqual(r.states.map((s) => s[0]), ['starting', 'healthy']);
    assert.equal(r.connects, 1);
    assert.equal(cam.connections, 1);
    assert.equal(r.src.stats.frames, r.frames.length);
    assert.equal(r.src.stats.bytes, r.frames.reduce((n, x) => n + x.length, 0));
    assert.ok(r.src.stats.upSince > 0);
    assert.deepEqual(r.src.stats.errors, {});
    assert.equal(cam.requests[0].url, '/video.cgi');
    assert.equal(cam.requests[0].headers.authorization, undefined, 'no credentials configured, none sent');
  });

  describe('camera quirks, each skipped or recovered and counted', function () {
    const html = Buffer.from('<html><body>Too many viewers</body></html>');
    const junk = (n) => Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(n, 0x11), Buffer.from([0xff, 0xd9])]);
    const variants = () => [
      {
        name: 'a boundary declared with a leading -- and written that way',
        handler: script(f.slice(0, 4).map((x) => part(x, { boundary: '--myboundary', dashes: '' })), 'multipart/x-mixed-replace;boundary=--myboundary'),
        frames: f.slice(0, 4),
        quirks: { 'boundary-dashes': 1 },
      },
      {
        name: 'no boundary parameter in the Content-Type',
        handler: script(f.slice(0, 4).map((x) => part(x, { boundary: 'BoundaryString' })), 'multipart/x-mixed-replace'),
        frames: f.slice(0, 4),
        quirks: { 'boundary-from-stream': 1 },
      },
      {
        name: 'no boundary before the first part',
        handler: script([Buffer.from(`Content-Type: image/jpeg\r\nContent-Length: ${f[0].length}\r\n\r\n`), f[0], Buffer.from('\r\n'), part(f[1]), part(f[2])]),
        frames: f.slice(0, 3),
        quirks: { 'no-first-boundary': 1 },
      },
      {
        name: 'no Content-Length (found by JPEG markers)',
        handler: script(f.slice(0, 4).map((x) => part(x, { headers: ['Content-Type: image/jpeg'] }))),
        frames: f.slice(0, 4),
      },
      {
        name: 'a repeated boundary line',
        handler: script([Buffer.from('--cam\r\n'), part(f[0]), Buffer.from('--cam\r\n'), part(f[1]), part(f[2])]),
        frames: f.slice(0, 3),
        quirks: { 'repeated-boundary': 2 },
      },
      {
        name: 'header lines without a space after the colon',
        handler: script(f.slice(0, 3).map((x) => part(x, { headers: ['Content-Type:image/jpeg', `Content-Length:${x.length}`] }))),
        frames: f.slice(0, 3),
      },
      {
        name: 'a part that is not a JPEG (with and without Content-Length)',
        handler: script([part(f[0]), part(html, { headers: ['Content-Type: text/html', `Content-Length: ${html.length}`] }), part(f[1]),
          part(html, { headers: ['Content-Type: text/html'] }), part(f[2])]),
        frames: f.slice(0, 3),
        errors: { 'not-jpeg': 2 },
      },
      {
        name: 'a truncated part',
        handler: script([part(f[0]), Buffer.concat([Buffer.from(`--cam\r\nContent-Length: ${f[1].length}\r\n\r\n`), f[1].subarray(0, 2000), Buffer.from('\r\n')]),
          part(f[2]), part(f[3])]),
        frames: [f[0], f[2], f[3]],
        errors: { truncated: 1 },
      },
      {
        name: 'parts far over the size cap (with and without Content-Length)',
        opts: { maxFrameBytes: Math.max(...f.map((x) => x.length)) },
        handler: script([part(f[0]), part(junk(2_000_000)), part(f[1]), part(junk(2_000_000), { headers: [] }), part(f[2])]),
        frames: f.slice(0, 3),
        errors: { oversize: 2 },
      },
    ];

    const names = [
      'a boundary declared with a leading -- and written that way',
      'no boundary parameter in the Content-Type',
      'no boundary before the first part',
      'no Content-Length (found by JPEG markers)',
      'a repeated boundary line',
      'header lines without a space after the colon',
      'a part that is not a JPEG (with and without Content-Length)',
      'a truncated part',
      'parts far over the size cap (with and without Content-Length)',
    ];
    it('covers every variant', function () {
      assert.deepEqual(variants().map((x) => x.name), names);
    });
    for (const v of names) {
      it(v, async function () {
        const variant = variants().find((x) => x.name === v);
        const cam = await camera(variant.handler);
        const r = source({ url: cam.url, ...variant.opts });
        await until(() => r.frames.length >= variant.frames.length, `${variant.frames.length} frames`);
        await delay(50); // nothing more may come
        assertFrames(r.frames, variant.frames, v);
        assert.deepEqual(r.src.stats.errors, variant.errors ?? {});
        assert.deepEqual(r.src.stats.quirks, variant.quirks ?? {});
        assert.equal(r.src.state, 'healthy');
        assert.equal(cam.connections, 1, 'recovered without reconnecting');
      });
    }
  });

  it('a connection dropped mid-part: reconnects with backoff, frames resume, the partial frame is discarded and counted', async function () {
    const cam = await camera((req, res, c) => {
      if (c.connections === 1) {
        res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace; boundary=cam' });
        res.write(Buffer.concat([part(f[0]), part(f[1])]));
        const third = part(f[2]);
        res.write(third.subarray(0, third.length >> 1), () => setTimeout(() => res.socket.destroy(), 20));
        return;
      }
      serveFrames(f, { ms: 10 })(req, res, c);
    });
    const r = source({ url: cam.url });
    await until(() => r.frames.length >= 6, 'frames after the reconnect');
    assert.ok(r.frames[0].equals(f[0]) && r.frames[1].equals(f[1]), 'frames before the drop');
    for (let i = 2; i < r.frames.length; i++) assert.ok(r.frames[i].equals(f[(i - 2) % f.length]), `frame ${i}: the new connection's, never the partial one`);
    assert.equal(cam.connections, 2);
    assert.equal(r.src.stats.errors.truncated, 1);
    assert.equal(r.src.stats.errors.network, 1);
    assert.equal(r.src.stats.restarts, 1);
    assert.deepEqual(r.states.map((s) => s[0]), ['starting', 'healthy', 'recovering', 'healthy']);
    assert.match(r.states[2][1], /closed mid-stream by http:|reset by http:/);
    assert.match(r.states[2][1], /retry 1 in/);
  });

  it('a stalled camera: no first frame, or frames that stop, each ends in a reconnect', async function () {
    const cam = await camera((req, res, c) => {
      if (c.connections >= 3) {
        serveFrames(f, { ms: 10 })(req, res, c);
        return;
      }
      res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace; boundary=cam' });
      // The first: headers, then nothing. The second: two frames, then nothing.
      if (c.connections === 2) res.write(Buffer.concat([part(f[0]), part(f[1])]));
      else res.flushHeaders();
    });
    const r = source({ url: cam.url, firstFrameTimeoutMs: 300, stallTimeoutMs: 300 });
    await until(() => cam.connections === 3 && r.frames.length >= 5, 'the third connection\'s frames');
    assert.equal(r.src.stats.errors.stall, 2);
    assert.match(r.src.recentErrors()[0], /stall: no first frame for 300 ms from http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.match(r.src.recentErrors()[1], /stall: no frame for 300 ms from http:/);
    await until(() => cam.open === 1, 'the stalled connections closed by the client');
    assert.equal(r.src.state, 'healthy');
  });

  it('no response within connectTimeoutMs: a timeout, then a reconnect', async function () {
    const cam = await camera((req, res, c) => {
      if (c.connections === 1) return; // never answers
      serveFrames(f, { ms: 10 })(req, res, c);
    });
    const r = source({ url: cam.url, connectTimeoutMs: 300 });
    await until(() => r.frames.length >= 2, 'frames from the second connection');
    assert.equal(r.src.stats.errors.timeout, 1);
    assert.match(r.src.stats.lastError, /no response within 300 ms from http:/);
    await until(() => cam.open === 1, 'the unanswered connection closed');
  });

  it('connection refused: recovering with backoff, failed after maxRetries, and retries go on', async function () {
    const port = await new Promise((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
    const r = source({ url: `http://127.0.0.1:${port}/`, maxRetries: 2 });
    await until(() => (r.src.stats.errors.network ?? 0) >= 5, 'five refused attempts');
    const kinds = r.states.map((s) => s[0]);
    assert.deepEqual(kinds.slice(0, 4), ['starting', 'recovering', 'recovering', 'failed']);
    assert.match(r.states[1][1], /connection refused by http:\/\/127\.0\.0\.1:\d+\/; retry 1 in 0\.0 s/);
    assert.match(r.states[3][1], /\(after 2 retries\)/);
    assert.equal(r.src.state, 'failed');
  });

  describe('HTTP answers that will not fix themselves: failed with a clear reason, retried every failedRetryMs', function () {
    const cases = [
      [403, 'text/plain', /access forbidden \(403\)/, 'auth'],
      [404, 'text/plain', /not found \(404\), check the stream path: HTTP 404 Not Found from http:/, 'http'],
      [400, 'text/plain', /HTTP 400 Bad Request/, 'http'],
      [200, 'image/jpeg', /answered with "image\/jpeg", not an MJPEG stream \(multipart\/x-mixed-replace\)/, 'not-multipart'],
      [200, 'text/html; charset=utf-8', /answered with "text\/html", not an MJPEG stream/, 'not-multipart'],
    ];
    for (const [status, type, re, kind] of cases) {
      it(`${status} ${type}`, async function () {
        const cam = await camera((req, res) => {
          res.writeHead(status, { 'Content-Type': type });
          res.end(type === 'image/jpeg' ? f[0] : 'nope');
        });
        const r = source({ url: cam.url, failedRetryMs: 100 });
        await until(() => cam.requests.length >= 3, 'two retries');
        assert.equal(r.src.state, 'failed');
        assert.deepEqual(r.states.map((s) => s[0]).slice(0, 2), ['starting', 'failed']);
        assert.match(r.states[1][1], re);
        assert.ok((r.src.stats.errors[kind] ?? 0) >= 2);
        assert.equal(r.frames.length, 0);
      });
    }

    it('503 (camera busy) is transient: recovering', async function () {
      const cam = await camera((req, res) => {
        res.writeHead(503);
        res.end();
      });
      const r = source({ url: cam.url });
      await until(() => cam.requests.length >= 2, 'a retry');
      assert.equal(r.states[1][0], 'recovering');
      assert.match(r.states[1][1], /HTTP 503/);
    });
  });

  describe('authentication', function () {
    const basicHandler = (req, res, c) => {
      const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="camera"' });
        res.end();
        return;
      }
      serveFrames(f, { ms: 10 })(req, res, c);
    };

    it('Basic: asked for, answered once, from options or from the URL (percent-encoded)', async function () {
      for (const creds of ['options', 'url']) {
        const cam = await camera(basicHandler);
        const url = creds === 'url' ? `http://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${cam.port}/mjpg/video.mjpg` : `${cam.url}/mjpg/video.mjpg`;
        const r = source(creds === 'url' ? { url } : { url, username: USER, password: PASSWORD });
        await until(() => r.frames.length >= 3, `frames (${creds})`);
        assert.equal(cam.requests.length, 2, creds);
        assert.equal(cam.requests[0].headers.authorization, undefined, 'nothing sent before the camera asks');
        assert.match(cam.requests[1].headers.authorization, /^Basic /);
        assert.equal(r.src.displayUrl, `${cam.url}/mjpg/video.mjpg`, 'no userinfo in the display URL');
        assert.ok(r.frames[0].equals(f[0]));
      }
    });

    /** A Digest camera: verifies responses independently, counts 401s; `rotate()` makes the next nonce stale. */
    function digestCamera(challenges) {
      const state = { nonce: 'n-0', unauthorized: 0, accepted: [], generation: 0 };
      const H = (alg, s) => createHash(alg === 'SHA-256' ? 'sha256' : 'md5').update(s).digest('hex');
      const handler = (req, res, c) => {
        const a = req.headers.authorization ?? '';
        const p = {};
        for (const m of a.matchAll(/(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) p[m[1]] = m[2] ?? m[3];
        let ok = false;
        if (a.startsWith('Digest ') && p.nonce === state.nonce && p.uri === req.url && p.username === USER) {
          const ha1 = H(p.algorithm, `${USER}:camera:${PASSWORD}`);
          const ha2 = H(p.algorithm, `GET:${req.url}`);
          ok = p.qop === 'auth' && p.response === H(p.algorithm, `${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:auth:${ha2}`);
        }
        if (!ok) {
          state.unauthorized++;
          res.writeHead(401, [...challenges(state.nonce).map((v) => ['WWW-Authenticate', v]), ['Content-Type', 'text/plain']].flat());
          res.end('unauthorized');
          return;
        }
        state.accepted.push({ algorithm: p.algorithm, nc: p.nc, nonce: p.nonce });
        if (state.dropAfter && state.accepted.length === 1) {
          res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace; boundary=cam' });
          res.write(Buffer.concat([part(f[0]), part(f[1])]), () => setTimeout(() => res.socket.destroy(), 20));
          return;
        }
        serveFrames(f, { ms: 10 })(req, res, c);
      };
      return { state, handler };
    }

    for (const [name, challenges, algorithm] of [
      ['MD5', (n) => [`Digest realm="camera", qop="auth", nonce="${n}", opaque="xyz"`], 'MD5'],
      ['SHA-256', (n) => [`Digest realm="camera", qop="auth,auth-int", algorithm=SHA-256, nonce="${n}"`], 'SHA-256'],
      ['SHA-256 preferred over MD5 and Basic, as the camera lists them', (n) => [
        `Digest realm="camera", qop="auth", algorithm=SHA-256, nonce="${n}"`,
        `Digest realm="camera", qop="auth", algorithm=MD5, nonce="${n}", Basic realm="camera"`], 'SHA-256'],
    ]) {
      it(`Digest ${name}: answered once, frames flow`, async function () {
        const d = digestCamera(challenges);
        const cam = await camera(d.handler);
        const r = source({ url: `${cam.url}/axis-cgi/mjpg/video.cgi?resolution=640x360`, username: USER, password: PASSWORD });
        await until(() => r.frames.length >= 3, 'frames');
        assert.equal(d.state.unauthorized, 1);
        assert.deepEqual(d.state.accepted, [{ algorithm, nc: '00000001', nonce: 'n-0' }]);
        assert.equal(r.src.state, 'healthy');
      });
    }

    it('Digest on reconnect: the cached challenge with the next nc, and a stale nonce answered again', async function () {
      const d = digestCamera((n) => [`Digest realm="camera", qop="auth", nonce="${n}"${n === 'n-0' ? '' : ', stale=true'}`]);
      d.state.dropAfter = true;
      const cam = await camera((req, res, c) => {
        // The nonce the camera accepts changes after the first stream: the client's cached one is stale.
        if (d.state.accepted.length === 1 && d.state.nonce === 'n-0') d.state.nonce = 'n-1';
        d.handler(req, res, c);
      });
      const r = source({ url: cam.url, username: USER, password: PASSWORD });
      await until(() => r.frames.length >= 5, 'frames after the reconnect');
      assert.deepEqual(d.state.accepted.map((a) => [a.nonce, a.nc]), [['n-0', '00000001'], ['n-1', '00000001']]);
      assert.equal(d.state.unauthorized, 2, 'the first request, and the stale preemptive one');
      // The reconnect sent the cached challenge at once (nc 2), before the camera asked.
      assert.match(cam.requests[2].headers.authorization, /nonce="n-0".*nc=00000002/);
      assert.deepEqual(r.states.map((s) => s[0]), ['starting', 'healthy', 'recovering', 'healthy']);
    });

    it('a wrong password: failed at the second 401, the password in no reason, log or stat; retried later', async function () {
      for (const scheme of ['Basic', 'Digest']) {
        const cam = await camera((req, res) => {
          res.writeHead(401, { 'WWW-Authenticate': scheme === 'Basic' ? 'Basic realm="camera"' : 'Digest realm="camera", qop="auth", nonce="abc"' });
          res.end();
        });
        const wrong = `${PASSWORD}-wrong`;
        const r = source({ url: `http://${USER}:${encodeURIComponent(wrong)}@127.0.0.1:${cam.port}/video?token=t0ps3cret`, failedRetryMs: 150 });
        await until(() => r.src.state === 'failed', `failed (${scheme})`);
        assert.equal(cam.requests.length, 2, `${scheme}: one challenge answered, not more`);
        assert.match(r.states[1][1], /authentication failed \(401\): check username and password, at http:\/\/127\.0\.0\.1:\d+\/video\?token=\*\*\*$/);
        await until(() => cam.requests.length >= 4, 'retried after failedRetryMs');
        const text = visibleText(r.src, r.states);
        for (const secret of [wrong, encodeURIComponent(wrong), 'S3cr3t', 't0ps3cret']) assert.ok(!text.includes(secret), `${scheme}: "${secret}" leaked: ${text}`);
        // The retry's 401 is counted when its answer is read, a moment after the request reached the camera.
        await until(() => r.src.stats.errors.auth >= 2, 'the retry refused too');
      }
    });

    it('401 without credentials, and a scheme we do not speak: failed, saying what to do', async function () {
      const cam = await camera((req, res) => {
        res.writeHead(401, { 'WWW-Authenticate': 'Digest realm="camera", nonce="abc"' });
        res.end();
      });
      const r = source({ url: cam.url });
      await until(() => r.src.state === 'failed', 'failed');
      assert.match(r.states[1][1], /authentication required \(401\): set a username and password, at http:/);
      const cam2 = await camera((req, res) => {
        res.writeHead(401, { 'WWW-Authenticate': 'Bearer realm="x", Digest realm="y", nonce="n", algorithm=SHA-512-256' });
        res.end();
      });
      const r2 = source({ url: cam2.url, username: USER, password: PASSWORD });
      await until(() => r2.src.state === 'failed', 'failed');
      assert.match(r2.states[1][1], /offers no supported scheme \(offered: bearer, digest; supported: Digest MD5\/SHA-256, Basic\)/);
      assert.equal(cam2.requests.length, 1);
    });

    it('follows a redirect, but sends no credentials to another host', async function () {
      const cam = await camera((req, res, c) => {
        if (req.url === '/') {
          res.writeHead(302, { Location: '/stream' });
          res.end();
          return;
        }
        basicHandler(req, res, c);
      });
      const r = source({ url: cam.url, username: USER, password: PASSWORD });
      await until(() => r.frames.length >= 2, 'frames after the redirect');
      assert.deepEqual(cam.requests.map((q) => q.url), ['/', '/stream', '/stream']);

      const other = await camera(basicHandler);
      const front = await camera((req, res) => {
        res.writeHead(302, { Location: `${other.url}/stream` });
        res.end();
      });
      const r2 = source({ url: front.url, username: USER, password: PASSWORD });
      await until(() => r2.src.state === 'failed', 'failed');
      assert.match(r2.states[1][1], /a redirect to another host: credentials are sent only to 127\.0\.0\.1:\d+/);
      assert.ok(other.requests.every((q) => q.headers.authorization === undefined), 'no credentials sent to the other host');
    });
  });

  it('https: a self-signed camera works by default (as with FFmpeg) and is refused, permanently, with verification on', async function () {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    const tls = { key: fs.readFileSync(key), cert: fs.readFileSync(cert) };
    const cam = await camera(serveFrames(f, { ms: 10 }), { tls });
    const r = source({ url: cam.url });
    await until(() => r.frames.length >= 3, 'frames over TLS');
    assert.ok(r.frames[0].equals(f[0]));
    const r2 = source({ url: cam.url, tlsVerify: true });
    await until(() => r2.src.state === 'failed', 'failed');
    assert.match(r2.states[1][1], /TLS certificate not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\).*; camera https:\/\/127\.0\.0\.1:\d+\/$/);
  });

  describe('stop()', function () {
    it('while streaming: resolves with every socket closed (the camera sees none open), no frame after it, safe twice', async function () {
      const cam = await camera(serveFrames(f, { ms: 10 }));
      const r = source({ url: cam.url });
      await until(() => r.frames.length >= 3, 'frames');
      assert.equal(cam.open, 1);
      await r.src.stop();
      assert.equal(r.src.state, 'idle');
      const n = r.frames.length;
      await until(() => cam.open === 0, 'the camera sees the socket closed');
      await r.src.stop();
      await delay(100);
      assert.equal(r.frames.length, n, 'no frame after stop');
      assert.equal(r.src.stats.errors.truncated, undefined, 'a stop we asked for is not a truncated part');
      assert.equal(cam.connections, 1, 'no reconnect');
    });

    it('while waiting for a response, and while waiting to retry: nothing left open, nothing retried', async function () {
      const hold = await camera(() => undefined);
      const r = source({ url: hold.url });
      await until(() => hold.open === 1 && hold.requests.length === 1, 'request pending');
      await r.src.stop();
      await until(() => hold.open === 0, 'closed');

      const busy = await camera((req, res) => {
        res.writeHead(503);
        res.end();
      });
      const r2 = source({ url: busy.url, backoff: { baseMs: 200, capMs: 200, jitter: 0 } });
      await until(() => r2.src.state === 'recovering', 'recovering');
      await r2.src.stop();
      const seen = busy.requests.length;
      await delay(400);
      assert.equal(busy.requests.length, seen, 'no retry after stop');
      await until(() => busy.open === 0, 'closed');
      // And it starts again.
      r2.src.start();
      await until(() => busy.requests.length > seen, 'a request after start()');
    });
  });

  it('degraded below 70% of the expected frame rate', async function () {
    const cam = await camera(serveFrames(f, { ms: 100 }));
    const r = source({ url: cam.url, expectedFps: 30, healthIntervalMs: 1000 });
    await until(() => r.src.state === 'degraded', 'degraded', 10000);
    assert.match(r.states.at(-1)[1], /fps, expected 30/);
    assert.ok(r.src.stats.fps > 5 && r.src.stats.fps < 15, `measured ${r.src.stats.fps} fps`);
  });

  it('refuses bad options with a clear error and no password in it', function () {
    assert.throws(() => new MjpegHttpSource({ url: 'rtsp://cam/stream' }), /needs an http:\/\/ or https:\/\/ URL/);
    assert.throws(() => new MjpegHttpSource({ url: 'not a url', password: 'hunter2' }), (err) => /not a valid URL/.test(err.message) && !err.message.includes('hunter2'));
    assert.throws(() => new MjpegHttpSource({ url: 'http://u:hunter2@[bad/' }), (err) => !err.message.includes('hunter2'));
    assert.throws(() => new MjpegHttpSource({ url: 'http://cam/', stallTimeoutMs: 0 }), /stallTimeoutMs must be a number >= 1/);
    assert.throws(() => new MjpegHttpSource({ url: 'http://cam/', maxFrameBytes: Number.NaN }), /maxFrameBytes/);
    assert.equal(DEFAULT_MJPEG_HTTP.tlsVerify, false);
    const s = new MjpegHttpSource({ url: 'http://cam/' });
    assert.equal(s.state, 'idle');
  });
});

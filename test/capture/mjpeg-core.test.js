'use strict';
const assert = require('node:assert/strict');
const net = require('node:net');
const sharp = require('sharp');
const { jpegView, jpegSize } = require('../../dist/core/jpeg/jpeg-info');
const { MultipartWriter } = require('../../dist/core/jpeg/multipart-writer');
const { ViewerHub } = require('../../dist/core/serve/viewer-hub');
const { RouteTable, normalisePath, PathInUseError } = require('../../dist/core/serve/route-table');
const { PlaceholderCache, placeholderSvg, renderPlaceholder } = require('../../dist/core/serve/placeholder');
const { MjpegEndpoint, fpsFromUrl } = require('../../dist/core/serve/mjpeg-endpoint');
const { recordFrames } = require('../helpers/ffmpeg-frames');
const { openStream, nextParts, fetchBuffer, isCompleteJpeg, MultipartParser } = require('../helpers/mjpeg-client');
const { TestSource } = require('../helpers/test-source');
const { until, delay } = require('../helpers/procs');
const { listen, closeServer } = require('../helpers/http-server');
const { ManualClock } = require('../helpers/manual-clock');

function once(emitter, event, pred = () => true) {
  return new Promise((resolve) => {
    const fn = (...args) => {
      if (!pred(...args)) return;
      emitter.off(event, fn);
      resolve(args);
    };
    emitter.on(event, fn);
  });
}

describe('mjpeg core', function () {
  let frames;
  before(async function () {
    frames = await recordFrames({ count: 20, size: '320x240' });
  });

  describe('jpeg-info', function () {
    it('accepts a real ffmpeg JPEG and reads its size', function () {
      assert.equal(jpegView(frames[0]), frames[0]);
      assert.deepEqual(jpegSize(frames[0]), { width: 320, height: 240 });
    });
    it('cuts padding after EOI and rejects non-JPEGs', function () {
      const padded = Buffer.concat([frames[1], Buffer.alloc(7)]);
      assert.equal(jpegView(padded).length, frames[1].length);
      assert.equal(jpegView(Buffer.from('hello world')), undefined);
      assert.equal(jpegView('not a buffer'), undefined);
      assert.equal(jpegView(frames[0].subarray(0, frames[0].length - 100)), undefined, 'truncated');
      assert.equal(jpegSize(Buffer.from([0xff, 0xd8, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0])), undefined);
    });
  });

  describe('multipart-writer', function () {
    it('builds one buffer per part that a strict parser reads back byte for byte', function () {
      const w = new MultipartWriter('b0und');
      const part = w.part(frames[2], 7, 123);
      assert.ok(part.bytes.toString('latin1').startsWith(`--b0und\r\nContent-Type: image/jpeg\r\nContent-Length: ${frames[2].length}\r\n\r\n`));
      assert.ok(part.jpeg.equals(frames[2]));
      assert.equal(part.jpeg.buffer, part.bytes.buffer, 'the JPEG is a view into the part');
      assert.equal(part.bytes.subarray(-2).toString('latin1'), '\r\n');
      assert.equal(w.responseHeaders()['Content-Type'], 'multipart/x-mixed-replace; boundary=b0und');
      assert.throws(() => new MultipartWriter('has space'), /invalid multipart boundary/);
    });
  });

  describe('route-table', function () {
    it('normalises and validates paths', function () {
      assert.equal(normalisePath('glimpser/front.mjpg/'), '/glimpser/front.mjpg');
      assert.equal(normalisePath(' /a/b.jpg '), '/a/b.jpg');
      for (const bad of ['', '/', '/a b', '/a?x=1', '/a#b', '//a', 42, undefined]) assert.equal(normalisePath(bad), undefined, String(bad));
    });
    it('refuses a second owner and releases only for the owner', function () {
      const t = new RouteTable();
      t.claim('/a', 'n1', () => {});
      assert.throws(() => t.claim('/a', 'n2', () => {}), PathInUseError);
      t.release('/a', 'n2');
      assert.equal(t.ownerOf('/a'), 'n1');
      t.release('/a', 'n1');
      assert.equal(t.size, 0);
      t.claim('/a', 'n2', () => {});
      assert.equal(t.ownerOf('/a'), 'n2');
    });
  });

  describe('placeholder', function () {
    it('renders a JPEG of the requested size with the stream name, state and time', async function () {
      const jpeg = await renderPlaceholder({ stream: 'front <door>', state: 'failed', detail: 'auth', width: 320, height: 240 });
      assert.ok(isCompleteJpeg(jpeg));
      const meta = await sharp(jpeg).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 320, 240]);
      const stats = await sharp(jpeg).stats();
      assert.ok(stats.channels[0].max > 150, 'text drawn, not a blank image');
      const svg = placeholderSvg({ stream: 'front <door>', state: 'failed', width: 320, height: 240 }, Date.now());
      assert.match(svg, /front &lt;door&gt;/);
      assert.match(svg, /failed/);
      assert.match(svg, /\d\d:\d\d:\d\d/);
    });
    it('shares one render between callers within the interval', async function () {
      let t = 0;
      const cache = new PlaceholderCache(1000, () => t);
      const info = { stream: 's', state: 'starting', width: 64, height: 64 };
      const [a, b] = await Promise.all([cache.get(info), cache.get(info)]);
      assert.equal(a, b);
      t = 500;
      assert.equal(await cache.get(info), a);
      assert.equal(cache.renders, 1);
      t = 1000;
      assert.notEqual(await cache.get(info), a);
      assert.equal(cache.renders, 2);
    });
  });

  describe('viewer-hub over real sockets', function () {
    let server;
    let hub;
    let writer;
    let partsOf;
    beforeEach(async function () {
      writer = new MultipartWriter();
      partsOf = frames.map((f, i) => writer.part(f, i + 1, Date.now()));
    });
    afterEach(async function () {
      hub?.closeAll();
      if (server) await closeServer(server);
      server = hub = undefined;
    });
    async function start(opts, viewerOpts = () => ({})) {
      hub = new ViewerHub(opts);
      server = await listen((req, res) => {
        if (hub.full) {
          res.writeHead(503);
          return res.end();
        }
        res.writeHead(200, writer.responseHeaders());
        res.flushHeaders();
        hub.add(res, viewerOpts(req));
      });
      return `http://127.0.0.1:${server.address().port}/`;
    }

    it('writes the same frames to every viewer, complete and in order', async function () {
      const url = await start({ maxViewers: 10, stallTimeoutMs: 30000 });
      const clients = await Promise.all(Array.from({ length: 5 }, () => openStream(url)));
      await until(() => hub.size >= 5, 'viewers');
      const received = clients.map((c) => nextParts(c, frames.length));
      for (const p of partsOf) {
        hub.push(p);
        await delay(5);
      }
      for (const got of await Promise.all(received)) {
        assert.equal(got.length, frames.length);
        got.forEach((body, i) => assert.ok(body.equals(frames[i]), `frame ${i}`));
      }
      clients.forEach((c) => c.close());
      await until(() => hub.size === 0, 'viewers gone');
      assert.deepEqual(hub.counts(), { viewers: 0, blocked: 0, capTimers: 0, stallTimers: 0 });
    });

    it('refuses viewers past the maximum', async function () {
      const url = await start({ maxViewers: 2, stallTimeoutMs: 30000 });
      const a = await openStream(url);
      const b = await openStream(url);
      await assert.rejects(openStream(url), (err) => err.status === 503);
      a.close();
      b.close();
    });

    it('a full stream with no lagging viewer gives a newcomer a slot of the address holding the most, until slots even out', async function () {
      hub = new ViewerHub({ maxViewers: 6, maxPerAddress: 6, stallTimeoutMs: 30000 });
      server = await listen((req, res) => {
        const address = req.headers['x-addr'];
        if (hub.admit(address)) {
          res.writeHead(503);
          return res.end();
        }
        res.writeHead(200, writer.responseHeaders());
        res.flushHeaders();
        hub.add(res, { address });
      });
      const url = `http://127.0.0.1:${server.address().port}/`;
      const open = (addr) => openStream(url, { headers: { 'x-addr': addr } });
      const clients = [];
      for (let i = 0; i < 6; i++) clients.push(await open('A'));
      const perAddress = () => {
        const n = {};
        for (const v of hub) n[v.address] = (n[v.address] ?? 0) + 1;
        return n;
      };
      // Every A viewer reads along: none lags, so only fair share can make room.
      clients.push(await open('B'), await open('B'), await open('B'));
      await until(() => perAddress().B === 3, 'three B viewers');
      assert.deepEqual(perAddress(), { A: 3, B: 3 });
      assert.equal(hub.evicted, 3);
      // Even now: a fourth from B would only flip a slot back and forth, so it is refused.
      await assert.rejects(open('B'), (err) => err.status === 503);
      // A third address still gets a slot, from A or B, whichever holds more (a tie: the first listed).
      clients.push(await open('C'));
      assert.equal(hub.size, 6);
      assert.equal(perAddress().C, 1);
      for (const c of clients) c.close();
    });

    it('a stalled viewer holds at most the part in flight plus one pending, then is dropped', async function () {
      const url = await start({ maxViewers: 10, stallTimeoutMs: 400 });
      const big = writer.part(Buffer.concat([frames[0].subarray(0, -2), Buffer.alloc(2_000_000), Buffer.from([0xff, 0xd9])]), 1, 0);
      const stalled = await openStream(url, { paused: true });
      const fast = await openStream(url, { keep: 'head' });
      await until(() => hub.size >= 2, 'viewers');
      const stalledViewer = [...hub['viewers']].find((v) => v.sink.req.socket.remotePort === stalled.req.socket.localPort);
      const removed = once(hub, 'removed');
      // Push at the fast viewer's pace until the paused socket's kernel buffers are full and frames pile up.
      let pushes = 0;
      while (!(stalledViewer.isBlocked && stalledViewer.skipped >= 3) && pushes < 200) {
        hub.push(big);
        pushes++;
        await nextParts(fast, 1);
        assert.ok(stalledViewer.sink.writableLength <= 2 * big.bytes.length, `buffered ${stalledViewer.sink.writableLength}`);
      }
      assert.ok(stalledViewer.isBlocked, `blocked after ${pushes} pushes`);
      assert.ok(stalledViewer.skipped >= 3, 'newer frames replaced the pending one');
      assert.equal(fast.parser.parts, pushes, 'the fast viewer got every frame');
      const [, reason] = await removed;
      assert.equal(reason, 'stalled');
      assert.equal(hub.stalledDropped, 1);
      assert.equal(hub.size, 1);
      assert.ok(stalledViewer.sink.destroyed, 'server side of the stalled connection destroyed');
      stalled.close();
      fast.close();
    });

    it('writing straight to the socket: a stalled viewer still holds at most two parts and is dropped', async function () {
      hub = new ViewerHub({ maxViewers: 10, stallTimeoutMs: 400 });
      server = await listen((req, res) => {
        res.useChunkedEncodingByDefault = false;
        res.writeHead(200, writer.responseHeaders());
        res.flushHeaders();
        hub.add(res, { socket: res.socket });
      });
      const url = `http://127.0.0.1:${server.address().port}/`;
      const big = writer.part(Buffer.concat([frames[0].subarray(0, -2), Buffer.alloc(2_000_000), Buffer.from([0xff, 0xd9])]), 1, 0);
      const stalled = await openStream(url, { paused: true });
      const fast = await openStream(url, { keep: 'head' });
      await until(() => hub.size >= 2, 'viewers');
      const viewers = [...hub['viewers']];
      assert.ok(viewers.every((v) => v.direct));
      const stalledViewer = viewers.find((v) => v.sink.req.socket.remotePort === stalled.req.socket.localPort);
      const removed = once(hub, 'removed');
      let pushes = 0;
      while (!(stalledViewer.isBlocked && stalledViewer.skipped >= 3) && pushes < 200) {
        hub.push(big);
        pushes++;
        await nextParts(fast, 1);
        assert.ok(stalledViewer.sink.socket.writableLength <= 2 * big.bytes.length, `buffered ${stalledViewer.sink.socket.writableLength}`);
      }
      assert.ok(stalledViewer.isBlocked, `blocked after ${pushes} pushes`);
      assert.ok(stalledViewer.skipped >= 3, 'newer frames replaced the pending one');
      assert.equal(fast.parser.parts, pushes, 'the fast viewer got every frame');
      const [, reason] = await removed;
      assert.equal(reason, 'stalled');
      assert.ok(stalledViewer.sink.destroyed, 'server side of the stalled connection destroyed');
      stalled.close();
      fast.close();
    });

    it('caps a viewer at ?fps and sends it the newest frame', async function () {
      const clock = new ManualClock();
      const url = await start({ maxViewers: 10, stallTimeoutMs: 30000, clock }, (req) => ({ maxFps: fpsFromUrl(req.url) }));
      const capped = await openStream(`${url}?fps=2`);
      await until(() => hub.size >= 1, 'viewers');
      const [viewer] = [...hub];
      for (const p of partsOf) hub.push(p); // a burst: the first goes out, the rest collapse into one pending
      assert.equal(viewer.sent, 1, 'the first at once');
      assert.equal(hub.counts().capTimers, 1, 'the newest waits for the cap');
      clock.advance(499);
      assert.equal(viewer.sent, 1, 'not before the cap interval');
      clock.advance(1);
      const got = await nextParts(capped, 2);
      clock.advance(700); // longer than one cap interval: nothing more may go, nothing was pushed
      assert.equal(viewer.sent, 2);
      assert.ok(got[0].equals(frames[0]));
      assert.ok(got[1].equals(frames[frames.length - 1]));
      assert.equal(hub.counts().capTimers, 0);
      capped.close();
    });
  });

  describe('endpoint', function () {
    let server;
    let ep;
    afterEach(async function () {
      ep?.close();
      if (server) await closeServer(server);
      server = ep = undefined;
    });
    async function start(opts = {}, source) {
      ep = new MjpegEndpoint({
        name: 'cam', consumerId: 'out1', maxViewers: 50,
        stallTimeoutMs: 30000, stillTimeoutMs: 5000, ...opts,
      });
      ep.setSource(source);
      server = await listen((req, res) => (req.url.startsWith('/s.jpg') ? ep.serveStill(req, res) : ep.serveStream(req, res)));
      return `http://127.0.0.1:${server.address().port}`;
    }

    it('shows a 640x360 placeholder before the first frame, then frames on the same connection', async function () {
      const url = await start();
      const c = await openStream(`${url}/s.mjpg`);
      const [ph] = await nextParts(c, 1);
      const meta = await sharp(ph).metadata();
      assert.deepEqual([meta.width, meta.height], [640, 360]);
      const next = nextParts(c, 3);
      ep.frame(frames[0]);
      ep.frame(frames[1]);
      ep.frame(frames[2]);
      const got = await next;
      const idx = got.findIndex((b) => b.equals(frames[0]));
      assert.ok(idx >= 0, 'real frames follow the placeholder');
      c.close();
    });

    it('repeats the last frame when none arrive, so viewers never go quiet; a frame gone stale gives way to a placeholder', async function () {
      const clock = new ManualClock();
      const url = await start({ repeatMs: 2000, staleMs: 10000, clock });
      ep.frame(frames[3]);
      const c = await openStream(`${url}/s.mjpg`);
      assert.ok((await nextParts(c, 1))[0].equals(frames[3]), 'the last frame at once');
      clock.advance(1999);
      assert.equal(ep.hub.partsWritten, 1, 'no repeat before the repeat period');
      for (let i = 0; i < 4; i++) {
        clock.advance(2000);
        const [b] = await nextParts(c, 1);
        assert.ok(b.equals(frames[3]), `repeat ${i + 1}`);
      }
      // The next is due 10 s after the frame came: it is stale by then.
      clock.advance(2000);
      const [ph] = await nextParts(c, 1);
      assert.ok(ph.placeholder, 'no frame for the stale period: a placeholder instead of a frozen picture');
      assert.equal((await fetchBuffer(`${url}/s.jpg`, 'HEAD')).status, 503, 'nor a stale still');
      ep.frame(frames[4]);
      assert.ok((await nextParts(c, 1))[0].equals(frames[4]), 'pictures again with the next frame');
      c.close();
    });

    it('follows source states: placeholder sized like the last frame while recovering, frames again after', async function () {
      const src = new TestSource('cam');
      const url = await start({}, src);
      ep.frame(frames[0]);
      const c = await openStream(`${url}/s.mjpg`);
      await until(() => src.running().length === 1, 'demand');
      assert.deepEqual(src.running(), ['out1']);
      assert.deepEqual(src.users.get('out1'), { run: true, jpeg: 'full' }, 'a viewer wants every frame');
      const [first] = await nextParts(c, 1);
      assert.ok(first.equals(frames[0]));
      const ph = nextParts(c, 1);
      src.setState('recovering', 'ffmpeg exited with signal SIGKILL');
      const [p] = await ph;
      const meta = await sharp(p).metadata();
      assert.deepEqual([meta.width, meta.height], [320, 240], 'sized like the real frames');
      assert.ok(!frames.some((f) => f.equals(p)));
      assert.equal(await fetchBuffer(`${url}/s.jpg`).then((r) => r.status), 503, 'no stale still while recovering');
      const back = nextParts(c, 1, 20000);
      src.setState('healthy');
      ep.frame(frames[5]);
      let [b] = await back;
      while (!b.equals(frames[5])) [b] = await nextParts(c, 1); // a placeholder drawn just before may still arrive
      c.close();
      await until(() => ep.viewers === 0, 'viewers gone');
      assert.deepEqual(src.running(), [], 'the last viewer gone, the endpoint keeps nothing running');
      assert.deepEqual(ep.counts(), { viewers: 0, blocked: 0, capTimers: 0, stallTimers: 0, keepTimer: false, stillWaiters: 0, boundSources: 1 });
      ep.close();
      assert.equal(src.listenerCount('state'), 0);
      assert.equal(src.users.size, 0, 'closed: no longer a user of the stream');
    });

    it('still: latest frame at once; on-demand idle source started and awaited; 503 with Retry-After on timeout', async function () {
      const src = new TestSource('cam', 'idle');
      const clock = new ManualClock();
      const url = await start({ stillTimeoutMs: 10000, clock }, src);
      const pending = fetchBuffer(`${url}/s.jpg`);
      await once(src, 'use');
      await until(() => src.running().length === 1, 'still demand');
      assert.equal(src.state, 'starting');
      src.setState('healthy');
      ep.frame(frames[4]);
      const r = await pending;
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'image/jpeg');
      assert.ok(r.body.equals(frames[4]));
      assert.deepEqual(src.running(), [], 'released after the still');
      const again = await fetchBuffer(`${url}/s.jpg`);
      assert.ok(again.body.equals(frames[4]), 'served at once while fresh');
      const head = await fetchBuffer(`${url}/s.jpg`, 'HEAD');
      assert.equal(head.headers['content-length'], String(frames[4].length));

      src.setState('idle');
      const timedOut = fetchBuffer(`${url}/s.jpg`);
      await until(() => ep.counts().stillWaiters === 1, 'the still request waits');
      clock.advance(9999);
      assert.equal(ep.counts().stillWaiters, 1, 'still waiting just before the timeout');
      clock.advance(1);
      const t = await timedOut;
      assert.equal(t.status, 503);
      assert.equal(t.headers['retry-after'], '5');
      assert.deepEqual(src.running(), [], 'released after the timeout');
      assert.equal(ep.counts().stillWaiters, 0);
    });

    it('still: a camera that fails while a still request waits answers it at once with a 503 and the reason', async function () {
      const src = new TestSource('cam', 'idle');
      const clock = new ManualClock();
      const url = await start({ stillTimeoutMs: 60000, clock }, src);
      const pending = fetchBuffer(`${url}/s.jpg`);
      await until(() => ep.counts().stillWaiters === 1, 'the still request waits for the camera');
      src.setState('failed', 'no source node defines this stream');
      const r = await pending;
      assert.equal(r.status, 503);
      assert.equal(r.headers['retry-after'], '5');
      assert.equal(r.body.toString(), '503 Service Unavailable: camera failed: no source node defines this stream\n');
      assert.deepEqual(src.running(), [], 'the still no longer keeps the camera running');
      // Asked again while failed: at once, with the reason.
      const again = await fetchBuffer(`${url}/s.jpg`);
      assert.equal(again.body.toString(), '503 Service Unavailable: camera failed: no source node defines this stream\n');
    });

    it('refused viewers are counted by reason (the stream full: 503; its address at its limit: 429) and reach the stream\'s counters', async function () {
      const src = new TestSource('cam');
      const url = await start({ maxViewers: 3, maxPerAddress: 2 }, src);
      ep.frame(frames[0]);
      const open = (addr) => openStream(`${url}/s.mjpg`, { localAddress: addr });
      const a1 = await open('127.0.0.1');
      const a2 = await open('127.0.0.1');
      await assert.rejects(open('127.0.0.1'), (err) => err.status === 429);
      const b1 = await open('127.0.0.3');
      // Full, and the slots as even as two addresses can hold three: no viewer to give its place.
      await assert.rejects(open('127.0.0.3'), (err) => err.status === 503);
      await assert.rejects(open('127.0.0.3'), (err) => err.status === 503);
      assert.deepEqual(ep.refused, { full: 2, address: 1 });
      const [, , counters] = src.usedWith.get('out1');
      assert.deepEqual(counters().viewersRefused, { full: 2, address: 1 });
      for (const c of [a1, a2, b1]) c.close();
    });

    it('sends the stream unchunked, part by part straight to the socket, ended with the connection by close()', async function () {
      const url = await start();
      ep.frame(frames[0]);
      const { port } = new URL(url);
      const sock = net.connect(Number(port), '127.0.0.1');
      sock.write('GET /s.mjpg HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
      const chunks = [];
      sock.on('data', (c) => chunks.push(c));
      const ended = new Promise((r) => sock.on('end', r));
      await until(() => ep.viewers === 1, 'viewer');
      assert.ok([...ep.hub['viewers']][0].direct, 'parts go straight to the socket');
      await until(() => Buffer.concat(chunks).indexOf('\r\n\r\n') >= 0, 'response head');
      ep.frame(frames[1]);
      ep.frame(frames[2]);
      const parser = () => {
        const all = Buffer.concat(chunks);
        const headEnd = all.indexOf('\r\n\r\n');
        const head = all.subarray(0, headEnd).toString('latin1');
        const boundary = /boundary=(\S+)/i.exec(head)[1];
        const p = new MultipartParser(boundary);
        const bodies = [];
        p.on('part', (b) => bodies.push(b));
        p.on('error', (err) => {
          throw err;
        });
        p.push(all.subarray(headEnd + 4));
        return { head, bodies, p };
      };
      await until(() => parser().bodies.length >= 3, 'three parts');
      ep.close();
      await ended;
      const { head, bodies, p } = parser();
      assert.match(head, /^HTTP\/1\.1 200 /);
      assert.doesNotMatch(head, /transfer-encoding/i, 'no chunked framing');
      assert.match(head, /\r\nConnection: close(\r\n|$)/i);
      assert.deepEqual(bodies.map((b) => frames.findIndex((f) => f.equals(b))), [0, 1, 2]);
      assert.equal(p.state, 'header', 'the connection ended on a part boundary');
      assert.equal(p.header.length, 0, 'and with no partial part header');
      sock.destroy();
    });

    it('HEAD on the stream answers headers only', async function () {
      const url = await start();
      const r = await fetchBuffer(`${url}/s.mjpg`, 'HEAD');
      assert.equal(r.status, 200);
      assert.match(r.headers['content-type'], /^multipart\/x-mixed-replace; boundary=/);
      assert.equal(r.body.length, 0);
      assert.equal(ep.viewers, 0);
    });
  });
});

'use strict';
// The viewer page's server side and the adaptive viewer rate, without Node-RED: the take-rate controller, the
// thumbnail ladder, the endpoint directory, an endpoint's demand (capped, slow, motion-aware and thumbnail
// viewers), the multiplexed picture channel and the control channel, with real HTTP clients on 127.0.0.1.
const assert = require('node:assert/strict');
const http = require('node:http');
const path = require('node:path');
const sharp = require('sharp');
const { TakeRate } = require('../../dist/core/serve/viewer-rate');
const { thumbWidthFor } = require('../../dist/core/serve/thumb-widths');
const { EndpointDirectory } = require('../../dist/core/page/endpoint-directory');
const { MjpegEndpoint, viewerRequestFromUrl } = require('../../dist/core/serve/mjpeg-endpoint');
const { ViewerServer, parseSubscription } = require('../../dist/core/page/viewer-server');
const { recordFrames } = require('../helpers/ffmpeg-frames');
const { openStream, nextParts, fetchBuffer } = require('../helpers/mjpeg-client');
const { openMux, postJson, openEvents } = require('../helpers/mux-client');
const { TestSource } = require('../helpers/test-source');
const { until, delay } = require('../helpers/procs');
const { listen, closeServer } = require('../helpers/http-server');
const { ManualClock } = require('../helpers/manual-clock');

const ASSETS = path.join(__dirname, '..', '..', 'viewer');

function endpoint(name, opts = {}) {
  return new MjpegEndpoint({ name, consumerId: name, maxViewers: 50, maxPerAddress: 50, stallTimeoutMs: 30000, stillTimeoutMs: 1000, ...opts });
}

describe('viewer page and adaptive rate (core)', function () {
  this.timeout(30000);
  let frames;
  let big;
  before(async function () {
    frames = await recordFrames({ count: 10, size: '320x240' });
    big = await recordFrames({ count: 4, size: '1280x720', quality: 2 });
  });

  describe('TakeRate', function () {
    /** Feeds a viewer's counters every 250 ms from `from` to `to` (ms): `perSec` taken and `dropPerSec` dropped. */
    function feeder(rate, fps = 10) {
      const c = { d: 0, x: 0 };
      return (from, to, perSec, dropPerSec, behind = false) => {
        let need = rate.need;
        for (let t = from; t <= to; t += 250) {
          c.d += perSec / 4;
          c.x += dropPerSec / 4;
          need = rate.sample(t, { delivered: c.d, dropped: c.x, behind }, fps);
        }
        return need;
      };
    }

    it('a viewer that takes every frame needs every frame', function () {
      const r = new TakeRate();
      assert.equal(feeder(r)(0, 10000, 10, 0), Infinity);
    });

    it('a slow viewer is asked for what it took; one that keeps up again is offered more, up to every frame', function () {
      const r = new TakeRate({ windowMs: 2000, probeMs: 4000 });
      const feed = feeder(r);
      const need = feed(0, 2000, 3, 7);
      assert.ok(Math.abs(need - 3) < 0.1, `need ${need} ≈ the 3 fps taken`);
      // At the lower rate it drops nothing and nothing waits: after the probe period it gets half as much again.
      assert.equal(feed(2250, 5750, need, 0), need, 'no probe before 4 s');
      const after = feed(6000, 6000, need, 0);
      assert.ok(Math.abs(after - need * 1.5) < 1e-9, `probed up to ${after}`);
      assert.equal(feed(6250, 40000, 10, 0), Infinity, 'back to every frame');
    });

    it('a probe that makes the viewer slow again doubles the wait before the next', function () {
      const r = new TakeRate({ windowMs: 1000, probeMs: 2000 });
      const feed = feeder(r);
      const low = feed(0, 1000, 4, 6);
      assert.ok(Math.abs(low - 4) < 0.01, `need ${low}`);
      const probed = feed(1250, 3000, low, 0);
      assert.ok(probed > low, 'probed after 2 s');
      // Offered more than it can take: slow again, back down.
      const lowered = feed(3250, 4000, 4, 2);
      assert.ok(lowered < probed, 'lowered after the failed probe');
      // Keeping up now: the next probe comes only 4 s after the lowering, not 2 s.
      assert.equal(feed(4250, 7750, lowered, 0), lowered, 'no probe within the doubled wait');
      assert.ok(feed(8000, 8000, lowered, 0) > lowered, 'probed again after it');
    });

    it('a viewer behind but taking clearly more than it is asked for (draining a backlog) is asked for that much', function () {
      const r = new TakeRate({ windowMs: 1000 });
      const feed = feeder(r);
      const low = feed(0, 1000, 3, 7);
      assert.ok(Math.abs(low - 3) < 0.01, `need ${low}`);
      const more = feed(1250, 2250, 5, 0, true);
      assert.ok(Math.abs(more - 5) < 0.2, `asked for ${more} after taking 5 fps from its backlog`);
    });

    it('a viewer with frames always waiting is slow even without drops (its connection buffers them)', function () {
      const r = new TakeRate({ windowMs: 1000 });
      const need = feeder(r)(0, 1500, 2, 0, true);
      assert.ok(Math.abs(need - 2) < 0.01, `need ${need}: what it took, not every frame`);
    });
  });

  describe('thumbnail widths', function () {
    it('rounds a request up the ladder, serves the main JPEG when no thumbnail would be smaller, and makes at most two', function () {
      assert.equal(thumbWidthFor(undefined, 1280, []), 0);
      assert.equal(thumbWidthFor(100, 1280, []), 160);
      assert.equal(thumbWidthFor(300, 1280, []), 320);
      assert.equal(thumbWidthFor(641, 1280, []), 0, 'wider than the ladder: main');
      assert.equal(thumbWidthFor(300, 320, []), 0, 'the main JPEG is no wider');
      assert.equal(thumbWidthFor(500, 1280, [160, 320]), 0, 'two in use, none wide enough: main');
      assert.equal(thumbWidthFor(150, 1280, [320, 640]), 320, 'two in use: the narrowest wide enough');
      assert.equal(thumbWidthFor(600, 1280, [160, 640]), 640);
    });

    it('parses fps, width and idlefps from a stream URL', function () {
      assert.deepEqual(viewerRequestFromUrl('/s.mjpg?fps=2&width=319.6&idlefps=0.5'), { maxFps: 2, width: 320, idleFps: 0.5 });
      assert.deepEqual(viewerRequestFromUrl('/s.mjpg?fps=-1&width=abc'), {});
      assert.deepEqual(viewerRequestFromUrl('/s.mjpg'), {});
    });
  });

  describe('EndpointDirectory', function () {
    it('lists endpoints by name; a late removal never drops a successor', function () {
      const dir = new EndpointDirectory();
      const changes = [];
      dir.on('change', (id) => changes.push(id));
      const a = endpoint('a');
      const b = endpoint('b');
      dir.add({ id: '2', name: 'Porch', endpoint: a, path: '/p.mjpg' });
      dir.add({ id: '1', name: 'Garden', endpoint: b, path: '/g.mjpg' });
      dir.add({ id: '2', name: 'Porch', endpoint: a, path: '/p.mjpg' });
      assert.deepEqual(changes, ['2', '1'], 'the same entry again is no change');
      assert.deepEqual(dir.list().map((e) => e.name), ['Garden', 'Porch']);
      const a2 = endpoint('a2');
      dir.add({ id: '2', name: 'Porch', endpoint: a2, path: '/p.mjpg' });
      dir.remove('2', a);
      assert.equal(dir.get('2').endpoint, a2, 'the old endpoint leaving does not remove its successor');
      dir.remove('2', a2);
      assert.equal(dir.get('2'), undefined);
      for (const e of [a, b, a2]) e.close();
    });
  });

  describe('MjpegEndpoint demand', function () {
    let server;
    let ep;
    let src;
    let url;
    async function start(opts = {}) {
      src = new TestSource('cam');
      src.definition = { capture: { fps: 10 } };
      ep = endpoint('out1', opts);
      ep.setSource(src);
      server = await listen((req, res) => ep.serveStream(req, res));
      url = `http://127.0.0.1:${server.address().port}/s.mjpg`;
    }
    afterEach(async function () {
      if (ep) ep.close();
      if (server) await closeServer(server);
      ep = server = undefined;
    });

    it('capped viewers ask for their rate (quantised to the stream\'s steps); any uncapped viewer asks for every frame', async function () {
      await start();
      ep.frame(frames[0]);
      const capped = await openStream(`${url}?fps=2`);
      await until(() => typeof src.users.get('out1')?.jpeg === 'number', 'numeric demand');
      const rate = src.users.get('out1').jpeg;
      assert.equal(Math.floor(10 / rate), 5, `every 5th frame of 10 fps (asked ${rate})`);
      const plain = await openStream(url);
      await until(() => src.users.get('out1').jpeg === 'full', 'full with an uncapped viewer');
      plain.close();
      await until(() => typeof src.users.get('out1').jpeg === 'number', 'back to the capped rate');
      capped.close();
      await until(() => src.users.get('out1') && Object.keys(src.users.get('out1')).length === 0, 'no viewer: no demand');
    });

    it('rounds a capped viewer up to the stream\'s next step and a slow viewer down to the step it can take', async function () {
      await start();
      ep.frame(frames[0]);
      const c = await openStream(`${url}?fps=3`);
      await until(() => ep.viewers === 1, 'viewer');
      const every = () => {
        const d = ep.demand();
        return d.jpeg === 'full' ? 1 : Math.floor(10 / d.jpeg);
      };
      assert.equal(every(), 3, 'capped at 3 fps: every 3rd frame of 10 (3.3 fps)');
      const [viewer] = [...ep.hub];
      const rate = ep.demandOfViewers.rateOf(viewer);
      rate.need = 2.4; // as measured for a viewer that takes 2.4 fps of the 3 it is allowed
      assert.equal(every(), 5, 'slow at 2.4 fps: every 5th (2 fps), not every 4th (2.5 fps, more than it takes)');
      rate.need = 2.5;
      assert.equal(every(), 4);
      c.close();
    });

    it('motion-aware viewers get the idle rate while nothing moves and every frame the moment motion starts', async function () {
      const clock = new ManualClock();
      await start({ clock });
      src.setMotion(false);
      ep.frame(frames[0]);
      const c = await openStream(`${url}?idlefps=2`);
      await nextParts(c, 1);
      await until(() => typeof src.users.get('out1').jpeg === 'number', 'idle demand');
      assert.equal(Math.floor(10 / src.users.get('out1').jpeg), 5);
      const [viewer] = [...ep.hub];
      // 10 fps in for 2 s of the endpoint's clock: the viewer gets 2 a second while nothing moves.
      const feed = async (n) => {
        const before = viewer.sent;
        for (let i = 1; i <= n; i++) {
          ep.frame(frames[i % frames.length]);
          clock.advance(100);
          await new Promise(setImmediate); // the socket drains as it would between frames
        }
        return viewer.sent - before;
      };
      const idle = await feed(20);
      assert.ok(idle >= 3 && idle <= 5, `${idle} parts in 2 s while still`);
      src.setMotion(true);
      assert.equal(src.users.get('out1').jpeg, 'full', 'full demand at once');
      const busy = await feed(15);
      assert.ok(busy >= 14, `${busy} parts of 15 frames in 1.5 s of motion`);
      c.close();
    });

    it('?width: the viewer gets its thumbnail width from its first picture on, asked of the stream only while such a viewer exists', async function () {
      await start();
      const thumb = await sharp(frames[1]).resize(160).jpeg().toBuffer();
      ep.frame(frames[0]);
      const small = await openStream(`${url}?width=150`);
      const main = await openStream(url);
      // The stream has no 160-wide thumbnail of the last frame yet (it is asked for now): the frame is scaled once.
      const [first] = await nextParts(small, 1);
      assert.equal((await sharp(first).metadata()).width, 160, 'the first picture is 160 wide, not the 320-wide frame');
      assert.ok((await nextParts(main, 1))[0].equals(frames[0]), 'the other viewer gets the frame itself');
      assert.deepEqual(src.users.get('out1:thumb160'), { thumb: 160 });
      ep.frame(frames[1], 2, Date.now(), { 160: thumb });
      const [s] = await nextParts(small, 1);
      const [m] = await nextParts(main, 1);
      assert.ok(s.equals(thumb), 'the thumbnail to the ?width viewer');
      assert.ok(m.equals(frames[1]), 'the main JPEG to the other');
      // A frame without thumbnails (the stream's old process, or another node): the main JPEG for everyone.
      ep.frame(frames[2]);
      assert.ok((await nextParts(small, 1))[0].equals(frames[2]));
      small.close();
      await until(() => !src.users.has('out1:thumb160'), 'thumbnail demand gone with its viewer');
      main.close();
    });

    it('?width on a running stream: frames without its thumbnail are held back from it until the stream makes them (at most 5 s)', async function () {
      const clock = new ManualClock();
      await start({ clock });
      const thumb = await sharp(frames[3]).resize(160).jpeg().toBuffer();
      ep.frame(frames[0]);
      const main = await openStream(url);
      await nextParts(main, 1);
      const small = await openStream(`${url}?width=150`);
      const [first] = await nextParts(small, 1);
      assert.equal((await sharp(first).metadata()).width, 160);
      const smallViewer = [...ep.hub].find((v) => v.variant === 160);
      // The stream's old process goes on without thumbnails until its successor (with them) delivers.
      ep.frame(frames[1]);
      ep.frame(frames[2]);
      const got = await nextParts(main, 2);
      assert.ok(got[1].equals(frames[2]), 'the main viewer gets every frame');
      assert.equal(smallViewer.offered, 1, 'the thumbnail viewer keeps its picture at its size');
      ep.frame(frames[3], 4, Date.now(), { 160: thumb });
      assert.ok((await nextParts(small, 1))[0].equals(thumb), 'then the stream\'s own thumbnails');

      // Asked again, and its thumbnails never come (frames through nodes that drop msg.thumbs): full frames after 5 s.
      small.close();
      await until(() => ![...ep.hub].some((v) => v.variant === 160), 'the thumbnail viewer gone');
      const again = await openStream(`${url}?width=150`);
      assert.equal((await sharp((await nextParts(again, 1))[0]).metadata()).width, 160);
      const againViewer = [...ep.hub].find((v) => v.variant === 160);
      ep.frame(frames[4]);
      await nextParts(main, 2);
      assert.equal(againViewer.offered, 1, 'held back while its thumbnails may come');
      clock.advance(5000);
      ep.frame(frames[5]);
      await until(() => again.queue.some((b) => b.equals(frames[5])), 'the full frame once the wait is over');
      for (const c of [main, again]) c.close();
    });

    it('when every viewer is slow the demand drops to what they take, and comes back when they catch up', async function () {
      await start({ sampleMs: 100, rate: { windowMs: 600, probeMs: 600 } });
      ep.frame(big[0]);
      const slow = await openStream(url, { paused: true });
      let i = 0;
      const feeder = setInterval(() => ep.frame(big[++i % big.length]), 100);
      try {
        await until(() => typeof src.users.get('out1').jpeg === 'number', 'lowered demand', 20000);
        assert.ok(src.users.get('out1').jpeg < 10);
        slow.res.on('data', (c) => slow.parser.push(c));
        slow.res.resume();
        await until(() => src.users.get('out1').jpeg === 'full', 'every frame again once it reads', 20000);
      } finally {
        clearInterval(feeder);
        slow.close();
      }
    });

    it('adaptive off: every frame while anyone watches, whatever the viewers take', async function () {
      await start({ adaptive: false });
      ep.frame(frames[0]);
      const c = await openStream(`${url}?fps=1`);
      await until(() => src.users.get('out1')?.jpeg === 'full', 'full');
      c.close();
    });
  });

  describe('ViewerServer', function () {
    let server;
    let dir;
    let vs;
    let eps;
    let base;
    let feeder;
    async function start(n = 2, muxOpts = {}) {
      dir = new EndpointDirectory();
      eps = [];
      for (let i = 0; i < n; i++) {
        const e = endpoint(`cam${i}`);
        eps.push(e);
        dir.add({ id: `id${i}`, name: `Camera ${i}`, endpoint: e, path: `/c${i}.mjpg` });
      }
      vs = new ViewerServer({ directory: dir, assetsDir: ASSETS, pageConfig: { idleFps: 2, strings: { title: 'T</script>' } }, mux: muxOpts, stateCheckMs: 100 });
      server = await listen((req, res) => {
        const p = req.url.split('?')[0];
        if (!p.startsWith('/v/')) return res.writeHead(404).end();
        vs.handle(p.slice(3), req, res, () => res.writeHead(404).end());
      });
      base = `http://127.0.0.1:${server.address().port}/v/`;
    }
    function feed(list = frames, ms = 100) {
      let i = 0;
      feeder = setInterval(() => {
        i++;
        for (const e of eps) e.frame(list[i % list.length], i);
      }, ms);
    }
    afterEach(async function () {
      clearInterval(feeder);
      if (vs) vs.close();
      for (const e of eps ?? []) e.close();
      if (server) await closeServer(server);
      server = vs = undefined;
    });

    it('serves the page with its settings inlined (escaped) and its scripts with ETags; unknown paths fall through', async function () {
      await start();
      const page = await fetchBuffer(base);
      assert.equal(page.status, 200);
      assert.match(page.headers['content-type'], /^text\/html/);
      assert.match(page.headers['content-security-policy'], /default-src 'self'/);
      const html = page.body.toString();
      assert.ok(html.includes('"title":"T\\u003c/script>"'), 'no way out of the JSON script element');
      for (const f of ['viewer.js', 'worker.js', 'render.js', 'viewer.css', 'icon.svg']) {
        const r = await fetchBuffer(base + f);
        assert.equal(r.status, 200, f);
        const again = await new Promise((resolve) => {
          http.get(base + f, { agent: false, headers: { 'If-None-Match': r.headers.etag } }, (res) => {
            res.resume();
            resolve(res.statusCode);
          });
        });
        assert.equal(again, 304, `${f} revalidates`);
      }
      assert.equal((await fetchBuffer(base + 'nope.js')).status, 404);
    });

    it('the control channel lists tiles, then sends state changes and tile-list changes', async function () {
      await start();
      const src = new TestSource('cam');
      eps[0].setSource(src);
      const ev = await openEvents(base + 'api/events');
      try {
        await until(() => ev.events.length >= 1, 'tile list');
        assert.equal(ev.events[0].event, 'tiles');
        assert.deepEqual(ev.events[0].data.map((t) => [t.id, t.name, t.state]), [['id0', 'Camera 0', 'healthy'], ['id1', 'Camera 1', 'idle']]);
        src.setState('recovering', 'ffmpeg exited with signal SIGKILL');
        await until(() => ev.events.some((e) => e.event === 'tile' && e.data.state === 'recovering'), 'state event');
        assert.equal(ev.events.find((e) => e.event === 'tile').data.reason, 'ffmpeg exited with signal SIGKILL');
        src.setMotion(true);
        await until(() => ev.events.some((e) => e.event === 'tile' && e.data.motion === true), 'motion event');
        const e2 = endpoint('cam2');
        eps.push(e2);
        dir.add({ id: 'id2', name: 'Attic', endpoint: e2, path: '/a.mjpg' });
        await until(() => ev.events.filter((e) => e.event === 'tiles').length === 2, 'new list');
        assert.deepEqual(ev.events.filter((e) => e.event === 'tiles')[1].data.map((t) => t.name), ['Attic', 'Camera 0', 'Camera 1']);
      } finally {
        ev.close();
      }
      await until(() => vs.controlConnections === 0, 'closed control connection forgotten');
    });

    it('one connection carries the frames of the tiles asked for; each tile is a viewer of its endpoint while asked for', async function () {
      await start(3);
      feed();
      const m = await openMux(base + 'api/frames');
      try {
        assert.equal((await postJson(base + 'api/subscribe', { conn: m.reader.conn, tiles: [{ id: 'id0' }, { id: 'id2', maxFps: 100 }] })).status, 204);
        await until(() => m.reader.count('id0') >= 5 && m.reader.count('id2') >= 5, 'frames of both tiles');
        assert.equal(m.reader.count('id1'), 0, 'none of the tile not asked for');
        const real = m.reader.frames.get('id0').filter((f) => !f.placeholder);
        assert.ok(real.length >= 4);
        for (const f of real) assert.ok(frames.some((x) => x.equals(f.jpeg)), 'whole JPEGs, as fed');
        assert.deepEqual(eps.map((e) => e.viewers), [1, 0, 1]);
        await postJson(base + 'api/subscribe', { conn: m.reader.conn, tiles: [{ id: 'id1' }, { id: 'nope' }] });
        await until(() => eps[1].viewers === 1 && eps[0].viewers === 0 && eps[2].viewers === 0, 'viewers follow the subscription');
        await until(() => m.reader.gone.some((g) => g.id === 'nope' && g.reason === 'unknown'), 'an unknown tile is answered');
        const before = m.reader.count('id0');
        await delay(400);
        assert.ok(m.reader.count('id0') <= before + 1, 'a tile no longer asked for gets no frames');
      } finally {
        m.close();
      }
      await until(() => eps.every((e) => e.viewers === 0) && vs.connections().length === 0, 'a closed connection leaves no viewer');
      assert.equal(vs.timersRunning, false, 'no page connected: no timers');
    });

    it('a connection that takes nothing holds one frame per tile and never slows another connection', async function () {
      await start(2, { highWaterBytes: 32 * 1024, kernelLimitBytes: 64 * 1024, stallTimeoutMs: 60000 });
      feed(big, 100);
      const stuck = await openMux(base + 'api/frames', { paused: true });
      const live = await openMux(base + 'api/frames');
      try {
        await postJson(base + 'api/subscribe', { conn: stuck.reader.conn, tiles: [{ id: 'id0' }, { id: 'id1' }] });
        await postJson(base + 'api/subscribe', { conn: live.reader.conn, tiles: [{ id: 'id0' }, { id: 'id1' }] });
        await delay(3000);
        const mux = vs.connections().find((x) => x.id === stuck.reader.conn);
        assert.ok(mux, 'still open (the stall timeout is a minute)');
        assert.ok(mux.tileStats('id0').dropped > 5 && mux.tileStats('id1').dropped > 5, `frames dropped per tile: ${JSON.stringify([mux.tileStats('id0'), mux.tileStats('id1')])}`);
        // What Node holds for it: under the high-water mark when the last frames were written, plus one frame per tile.
        const largest = Math.max(...big.map((b) => b.length)) + 64;
        assert.ok(mux.bufferedBytes <= 32 * 1024 + 2 * largest, `${mux.bufferedBytes} bytes held`);
        const liveCounts = ['id0', 'id1'].map((id) => live.reader.count(id));
        assert.ok(liveCounts.every((n) => n >= 25), `the other connection got ${liveCounts} frames in 3 s at 10 fps`);
      } finally {
        stuck.close();
        live.close();
      }
    });

    it('a tile whose endpoint closes is told so; the endpoint that replaces it under the same id is served again', async function () {
      await start(1);
      feed();
      const m = await openMux(base + 'api/frames');
      try {
        await postJson(base + 'api/subscribe', { conn: m.reader.conn, tiles: [{ id: 'id0' }] });
        await until(() => m.reader.count('id0') >= 2, 'frames');
        const old = eps[0];
        const successor = endpoint('cam0b');
        dir.add({ id: 'id0', name: 'Camera 0', endpoint: successor, path: '/c0.mjpg' });
        old.close();
        dir.remove('id0', old);
        eps[0] = successor;
        await until(() => successor.viewers === 1, 'the tile follows the new endpoint');
        const n = m.reader.count('id0');
        await until(() => m.reader.count('id0') >= n + 3, 'frames from the new endpoint');
        dir.remove('id0', successor);
        await until(() => m.reader.gone.some((g) => g.id === 'id0' && g.reason === 'removed'), 'removed tile reported');
        assert.equal(successor.viewers, 0);
      } finally {
        m.close();
      }
    });

    it('takes a subscription whose body a JSON parser read before it (Node-RED\'s admin app, mounted at /, does)', async function () {
      await start(1);
      feed();
      const { json } = require('../helpers/node-red').requireFromNodeRed('express');
      const parse = json();
      const parsed = await listen((req, res) =>
        parse(req, res, () => {
          assert.equal(req._body, true, 'the parser read the body');
          vs.handle(req.url.slice(3).split('?')[0], req, res, () => res.writeHead(404).end());
        }),
      );
      const m = await openMux(base + 'api/frames');
      try {
        const r = await postJson(`http://127.0.0.1:${parsed.address().port}/v/api/subscribe`, { conn: m.reader.conn, tiles: [{ id: 'id0' }] });
        assert.equal(r.status, 204);
        await until(() => m.reader.count('id0') >= 2, 'frames');
      } finally {
        m.close();
        await closeServer(parsed);
      }
    });

    it('refuses bad subscriptions with clear answers', async function () {
      await start(1);
      const m = await openMux(base + 'api/frames');
      try {
        assert.equal((await postJson(base + 'api/subscribe', { conn: m.reader.conn, tiles: [] }, { 'Content-Type': 'text/plain' })).status, 415);
        assert.equal((await postJson(base + 'api/subscribe', '{not json')).status, 400);
        assert.equal((await postJson(base + 'api/subscribe', { conn: m.reader.conn, tiles: [{ id: 5 }] })).status, 400);
        assert.equal((await postJson(base + 'api/subscribe', { conn: 'gone', tiles: [] })).status, 404);
        assert.equal((await postJson(base + 'api/subscribe', { conn: m.reader.conn, tiles: [], pad: 'x'.repeat(20000) })).status, 413);
        assert.equal((await fetchBuffer(base + 'api/subscribe')).status, 405);
        assert.deepEqual(parseSubscription({ conn: 'c', tiles: [{ id: 'a', width: 300.4, idleFps: 2, maxFps: -1 }] }), { conn: 'c', tiles: [{ id: 'a', width: 300, idleFps: 2 }] });
      } finally {
        m.close();
      }
    });
  });
});

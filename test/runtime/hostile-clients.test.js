'use strict';
// Hostile and broken clients against ffmpeg-source -> mjpeg-out in a real Node-RED runtime, on 127.0.0.0/8 only:
// connections reset before the first byte, clients that never read (also at ?fps=0.25), a full stream, one client
// address taking every slot, frames that declare a huge size.
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const helper = require('../helpers/node-red').testHelper();
const { withCatalogs } = require('../helpers/i18n');
const [poolNode, sourceNode, mjpegOut] = withCatalogs([
  require('../../nodes/process-pool.js'),
  require('../../nodes/ffmpeg-source.js'),
  require('../../nodes/mjpeg-out.js'),
]);
const { openStream, nextParts } = require('../helpers/mjpeg-client');
const { recordFrames } = require('../helpers/ffmpeg-frames');
const { delay, isAlive, until } = require('../helpers/procs');
const { useHttpRuntime } = require('../helpers/red-http');
const { statusesOf, viewersShown } = require('../helpers/node-status');

function flow({ source = {}, out = {}, pool = {} } = {}) {
  return [
    { id: 'pool', type: 'glimpser-process-pool', idleGrace: 1, ...pool },
    { id: 'src', type: 'glimpser-ffmpeg-source', name: 'front', pool: 'pool', source: 'testsrc2=size=1280x720:rate=10', fps: 10, quality: 2, startMode: 'demand', wires: [['out']], ...source },
    { id: 'out', type: 'glimpser-mjpeg-out', name: 'front', path: '/glimpser/front.mjpg', stillPath: '/glimpser/front.jpg', maxViewers: 100, stallTimeout: 5, wires: [], ...out },
  ];
}

/** A raw client that sends the request and never reads a byte. */
function neverReader(port, path, localAddress = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress }, () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      s.pause();
      resolve(s);
    });
    s.on('error', reject);
  });
}

/** Connects, sends the request and resets the connection at once (RST, no FIN), as a crashing client does. */
function connectAndReset(port, path) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      s.resetAndDestroy();
      resolve();
    });
    s.on('error', () => resolve());
  });
}

describe('hostile clients (real FFmpeg, real Node-RED runtime, sockets on 127.0.0.0/8)', function () {
  this.timeout(120000);
  let port;
  let sockets = [];
  afterEach(function () {
    for (const s of sockets) s.destroy();
    sockets = [];
  });
  const rt = useHttpRuntime(helper);

  async function load(f) {
    await rt.load([poolNode, sourceNode, mjpegOut], f);
    port = rt.port;
    return helper.getNode('out');
  }

  it('2000 clients that reset at once leave no viewer behind: a real viewer gets 200, the on-demand source stops after its grace', async function () {
    const out = await load(flow({ out: { maxPerAddress: 100 } }));
    const pool = helper.getNode('pool').pool;
    for (let burst = 0; burst < 20; burst++) {
      await Promise.all(Array.from({ length: 100 }, () => connectAndReset(port, '/glimpser/front.mjpg')));
    }
    await until(() => viewersShown(out) === 0, 'no phantom viewer left', 10000);
    const real = await openStream(`http://127.0.0.1:${port}/glimpser/front.mjpg`);
    assert.equal(real.res.statusCode, 200);
    await nextParts(real, 2);
    const pid = pool.captures()[0]?.stats().pid;
    real.close();
    await until(() => viewersShown(out) === 0, 'the real viewer gone');
    await until(() => pool.captures().length === 0, 'on-demand source stopped after its 1 s grace', 15000);
    if (pid) await until(() => !isAlive(pid), 'ffmpeg exited');
  });

  for (const query of ['', '?fps=0.25']) {
    it(`150 clients that never read${query ? ` (${query})` : ''} take at most their address's share; a real viewer gets 200 at once`, async function () {
      // The per-address limit is off unless set (a proxy such as Home Assistant brings every viewer from one address).
      const out = await load(flow({ source: { startMode: 'always' }, out: { maxPerAddress: 10 } }));
      for (let i = 0; i < 150; i++) {
        try {
          sockets.push(await neverReader(port, `/glimpser/front.mjpg${query}`));
        } catch {
          // refused at the socket level is fine too
        }
      }
      await until(() => viewersShown(out) === 10, 'the per-address limit (10) admitted 10', 10000);
      const t0 = Date.now();
      const real = await openStream(`http://127.0.0.1:${port}/glimpser/front.mjpg`, { localAddress: '127.0.0.2' });
      const waited = Date.now() - t0;
      assert.ok(waited < 5000, `the real viewer waited ${waited} ms`);
      await nextParts(real, 2);
      // The same address asking again is refused with 429 until one of its stalled viewers can be evicted.
      const again = await new Promise((resolve) => http.get(`http://127.0.0.1:${port}/glimpser/front.mjpg`, { agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).on('error', () => resolve(0)));
      assert.ok(again === 429 || again === 200, `a new viewer from the busy address: ${again}`);
      // The stalled ones go within the stall timeout (5 s) once their socket stops taking data: of the 10, the real
      // viewer and perhaps the one admitted again, at least 5 are gone.
      await until(() => viewersShown(out) <= (again === 200 ? 7 : 6), 'stalled viewers dropped', 60000);
      real.close();
    });
  }

  // From many addresses the per-address limit does not help: the stream fills. A never-reading client at 0.25 fps
  // looks alive until its receive buffer (128 KiB here) is full: two 67 KB frames, 4 s apart. Meanwhile a newcomer
  // from an address with fewer slots takes one from the address that holds the most.
  it('150 never-reading ?fps=0.25 clients from 15 addresses fill the stream; real viewers get 200 within 5 s', async function () {
    const out = await load(flow({ source: { startMode: 'always' } }));
    for (let i = 0; i < 150; i++) {
      const s = await neverReader(port, '/glimpser/front.mjpg?fps=0.25', `127.0.2.${(i % 15) + 1}`).catch(() => undefined);
      if (s) sockets.push(s);
    }
    await until(() => viewersShown(out) === 100, 'the stream is full', 10000);
    const t0 = Date.now();
    for (let n = 0; n < 3; n++) {
      let real;
      // A browser retries after Retry-After; here a refusal is retried until the deadline.
      while (!real && Date.now() - t0 < 5000) {
        real = await openStream(`http://127.0.0.1:${port}/glimpser/front.mjpg`, { localAddress: '127.0.0.2' }).catch(() => delay(100));
      }
      assert.ok(real, `real viewer ${n + 1} got 200 within 5 s`);
      await nextParts(real, 1);
      sockets.push(real.req.socket);
    }
    assert.equal(viewersShown(out), 100, 'still full: never-readers gave their slots to the real viewers');
    console.log(`      (3 real viewers admitted ${((Date.now() - t0) / 1000).toFixed(1)} s after the stream was full)`);
  });

  it('a full stream gives the slot of its stalest stalled viewer to a newcomer', async function () {
    const out = await load(flow({ source: { startMode: 'always' }, out: { maxViewers: 20, stallTimeout: 300 } }));
    for (let i = 0; i < 20; i++) sockets.push(await neverReader(port, '/glimpser/front.mjpg', `127.0.1.${i + 1}`));
    await until(() => viewersShown(out) === 20, '20 viewers');
    // Their kernel buffers fill within a few big frames; a second later they have taken no whole frame for a second.
    // Until then the newcomer is refused (a browser retries after Retry-After; here every 200 ms).
    const shownBefore = statusesOf(out).length;
    const t0 = Date.now();
    let real;
    while (!real && Date.now() - t0 < 60000) {
      real = await openStream(`http://127.0.0.1:${port}/glimpser/front.mjpg`, { localAddress: '127.0.0.2' }).catch(() => delay(200));
    }
    assert.ok(real, 'the newcomer got a slot');
    await nextParts(real, 1);
    const counts = statusesOf(out).slice(shownBefore).map((st) => Number(/^(\d+) viewers?/.exec(st.text)?.[1]));
    assert.equal(Math.min(...counts), 19, `one stalled viewer evicted (viewer counts shown: ${counts.join(', ')})`);
    assert.equal(viewersShown(out), 20, 'then the newcomer admitted');
    real.close();
  });

  it('a frame that declares more pixels than the cap is refused from its header; placeholders never grow with it', async function () {
    const [small] = await recordFrames({ count: 1, size: '320x240' });
    const huge = Buffer.from(small);
    // Patch the SOF0 header to declare 16000x16000: nothing may decode or draw that.
    const sof = huge.indexOf(Buffer.from([0xff, 0xc0]));
    huge.writeUInt16BE(16000, sof + 5);
    huge.writeUInt16BE(16000, sof + 7);
    const out = await load(flow({ source: { source: 'testsrc2=size=320x240:rate=5', startMode: 'demand' } }));
    const errors = [];
    out.on('call:error', (c) => errors.push(String(c.args[0])));
    const viewer = await openStream(`http://127.0.0.1:${port}/glimpser/front.mjpg`);
    const rss0 = process.memoryUsage().rss;
    out.receive({ payload: huge });
    await until(() => errors.length > 0, 'refused');
    assert.match(errors[0], /frame of 16000x16000 is over the limit of \d+ pixels; dropped/);
    const [part] = await nextParts(viewer, 1);
    const sharp = require('sharp');
    const meta = await sharp(part).metadata();
    assert.ok(meta.width * meta.height <= 3840 * 2160, `${meta.width}x${meta.height}`);
    assert.ok(process.memoryUsage().rss - rss0 < 200e6, 'no huge drawing');
    viewer.close();
  });

  it('the frame cap is the node\'s Max frame setting: a frame over it is refused with its size and the cap, one under it served', async function () {
    const [over] = await recordFrames({ count: 1, size: '320x240' });
    const [under] = await recordFrames({ count: 1, size: '200x150' });
    const out = await load(flow({ source: { source: 'testsrc2=size=320x240:rate=5', startMode: 'demand' }, out: { maxMegapixels: 0.05 } }));
    const errors = [];
    out.on('call:error', (c) => errors.push(String(c.args[0]?.message ?? c.args[0])));
    out.receive({ payload: over });
    await until(() => errors.length > 0, 'refused');
    assert.match(errors[0], /frame of 320x240 is over the limit of 50000 pixels; dropped/);
    out.receive({ payload: under });
    const viewer = await openStream(`http://127.0.0.1:${port}/glimpser/front.mjpg`);
    out.receive({ payload: under });
    const [part] = await nextParts(viewer, 1);
    assert.ok(part.equals(under), 'the frame under the cap, byte for byte');
    assert.equal(errors.length, 1, 'only the frame over the cap was refused');
    viewer.close();
  });
});

'use strict';
// mjpeg-out in a real Node-RED runtime (node-red-node-test-helper), its RED.httpNode served on a real
// HTTP server, fed with real FFmpeg JPEGs injected as input messages, read by real HTTP clients.
const assert = require('node:assert/strict');
const http = require('node:http');
const helper = require('../helpers/node-red').testHelper();
const { withCatalogs } = require('../helpers/i18n');
// Statuses and errors in the English of nodes/locales, as users read them.
const [poolNode, sourceNode, mjpegOut] = withCatalogs([
  require('../../nodes/process-pool.js'),
  require('../../nodes/ffmpeg-source.js'),
  require('../../nodes/mjpeg-out.js'),
]);
const { recordFrames } = require('../helpers/ffmpeg-frames');
const { openStream, nextParts, fetchBuffer } = require('../helpers/mjpeg-client');
const { lastStatus, viewersShown } = require('../helpers/node-status');

const { until, delay } = require('../helpers/procs');
const { useHttpRuntime } = require('../helpers/red-http');

function flow(outProps = {}, extra = []) {
  return [
    { id: 'src', type: 'helper', wires: [['out']] },
    { id: 'out', type: 'glimpser-mjpeg-out', name: 'front', path: '/glimpser/front.mjpg', stillPath: '/glimpser/front.jpg', maxViewers: 100, stallTimeout: 30, stillTimeout: 10, wires: [], ...outProps },
    ...extra,
  ];
}

describe('mjpeg-out node (real Node-RED runtime, real HTTP clients)', function () {
  this.timeout(60000);
  let frames;
  const rt = useHttpRuntime(helper);
  let base;

  before(async function () {
    frames = await recordFrames({ count: 40, size: '320x240' });
  });

  async function load(f, settings) {
    await rt.load([poolNode, sourceNode, mjpegOut], f, { settings });
    base = rt.base;
    return helper.getNode('out');
  }

  it('serves byte-exact complete JPEGs to 30 concurrent clients at the input rate', async function () {
    const out = await load(flow({ maxPerAddress: 30 }));
    const clients = await Promise.all(Array.from({ length: 30 }, () => openStream(`${base}/glimpser/front.mjpg`)));
    await until(() => viewersShown(out) === 30, '30 viewers');
    // The first part of each is a placeholder (no frame yet); drop it before counting.
    await Promise.all(clients.map((c) => nextParts(c, 1)));
    const received = clients.map((c) => nextParts(c, frames.length));
    for (const f of frames) {
      out.receive({ payload: f, topic: 'front' });
      await delay(15);
    }
    for (const got of await Promise.all(received)) {
      got.forEach((body, i) => assert.ok(body.equals(frames[i]), `frame ${i} intact and in order`));
    }
    const statusCalls = out.status.getCalls().map((c) => c.args[0].text);
    assert.ok(statusCalls.some((t) => /^30 viewers · /.test(t)), statusCalls.join(' | '));
    clients.forEach((c) => c.close());
    await until(() => viewersShown(out) === 0, 'viewers gone');
  });

  it('answers HEAD and GET on both paths with the right headers', async function () {
    const out = await load(flow());
    out.receive({ payload: frames[0] });
    const sh = await fetchBuffer(`${base}/glimpser/front.mjpg`, 'HEAD');
    assert.equal(sh.status, 200);
    assert.match(sh.headers['content-type'], /^multipart\/x-mixed-replace; boundary=\S+$/);
    assert.match(sh.headers['cache-control'], /no-cache/);
    assert.match(sh.headers['cache-control'], /no-store/);
    assert.equal(sh.headers.pragma, 'no-cache');
    assert.equal(sh.headers.connection, 'keep-alive');
    const still = await fetchBuffer(`${base}/glimpser/front.jpg`);
    assert.equal(still.status, 200);
    assert.equal(still.headers['content-type'], 'image/jpeg');
    assert.ok(still.body.equals(frames[0]));
    const stillHead = await fetchBuffer(`${base}/glimpser/front.jpg`, 'HEAD');
    assert.equal(stillHead.headers['content-length'], String(frames[0].length));
    assert.equal((await fetchBuffer(`${base}/glimpser/other.mjpg`)).status, 404);
  });

  it('reports a non-JPEG payload with node.error, drops it, and the stream goes on', async function () {
    const out = await load(flow());
    const c = await openStream(`${base}/glimpser/front.mjpg`);
    await nextParts(c, 1);
    const errored = new Promise((r) => out.on('call:error', (call) => r(call)));
    out.receive({ payload: 'not a jpeg' });
    const call = await errored;
    assert.match(String(call.args[0]), /msg\.payload must be a JPEG Buffer/);
    out.receive({ payload: Buffer.from([0xff, 0xd8, 1, 2, 3]) });
    const next = nextParts(c, 1);
    out.receive({ payload: frames[3] });
    const [b] = await next;
    assert.ok(b.equals(frames[3]));
    c.close();
  });

  it('refuses viewers past max viewers with 503 and Retry-After', async function () {
    const out = await load(flow({ maxViewers: 2 }));
    out.receive({ payload: frames[0] });
    const a = await openStream(`${base}/glimpser/front.mjpg`);
    const b = await openStream(`${base}/glimpser/front.mjpg`);
    await assert.rejects(openStream(`${base}/glimpser/front.mjpg`), (err) => err.status === 503 && err.headers['retry-after'] === '5');
    a.close();
    b.close();
  });

  it('caps a viewer with ?fps=1 while others get every frame', async function () {
    const out = await load(flow());
    out.receive({ payload: frames[0] });
    const full = await openStream(`${base}/glimpser/front.mjpg`);
    const capped = await openStream(`${base}/glimpser/front.mjpg?fps=1`);
    await until(() => viewersShown(out) === 2, 'viewers');
    await Promise.all([nextParts(full, 1), nextParts(capped, 1)]);
    // 20 frames at the uncapped viewer's pace (well under a second): it takes all of them, while the capped
    // viewer's one pending frame is replaced each time and only the newest goes out at its next slot.
    for (let i = 1; i <= 20; i++) {
      out.receive({ payload: frames[i] });
      const [b] = await nextParts(full, 1);
      assert.ok(b.equals(frames[i]));
    }
    const [last] = await nextParts(capped, 1);
    assert.ok(last.equals(frames[20]), 'the capped viewer gets the newest frame');
    assert.equal(capped.queue.length, 0);
    full.close();
    capped.close();
  });

  it('repeats the last frame when frames stop (no viewer goes quiet)', async function () {
    const out = await load(flow());
    out.receive({ payload: frames[5] });
    const c = await openStream(`${base}/glimpser/front.mjpg`);
    const got = await nextParts(c, 3, 15000);
    for (const b of got) assert.ok(b.equals(frames[5]));
    c.close();
  });

  it('a second node on the same path gets a clear error and serves nothing; close frees the path', async function () {
    const f = flow({}, [{ id: 'out2', type: 'glimpser-mjpeg-out', name: 'dup', path: '/glimpser/front.mjpg', stillPath: '', wires: [] }]);
    const out = await load(f);
    const dup = helper.getNode('out2');
    // The helper spies on the Node prototype: only the calls made on this node count.
    const errs = dup.error.getCalls().filter((c) => c.thisValue === dup).map((c) => String(c.args[0]));
    assert.ok(errs.some((e) => /path \/glimpser\/front\.mjpg is already served by mjpeg out "front"; this node serves nothing/.test(e)), errs.join(' | '));
    assert.ok(dup.status.getCalls().some((c) => c.thisValue === dup && c.args[0].fill === 'red' && c.args[0].text === 'path in use'));
    assert.ok(!out.error.getCalls().some((c) => c.thisValue === out), 'the first node serves without an error');
    out.receive({ payload: frames[1] });
    assert.ok((await fetchBuffer(`${base}/glimpser/front.jpg`)).body.equals(frames[1]));
  });

  it('redeploying 50 times leaks no routes and the newest node serves the path', async function () {
    const out = await load(flow());
    const stackBefore = rt.httpNode._router.stack.length;
    for (let i = 0; i < 50; i++) {
      await helper.setFlows(flow({ name: `front${i}`, maxViewers: 100 + i }), 'full');
    }
    assert.equal(rt.httpNode._router.stack.length, stackBefore, 'router stack unchanged');
    const now = helper.getNode('out');
    assert.notEqual(now, out);
    now.receive({ payload: frames[2] });
    const r = await fetchBuffer(`${base}/glimpser/front.jpg`);
    assert.ok(r.body.equals(frames[2]));
  });

  it('serves nothing when httpNodeRoot is false', async function () {
    await load(flow(), { httpNodeRoot: false });
    const out = helper.getNode('out');
    assert.ok(out.warn.getCalls().some((c) => /httpNodeRoot is false/.test(String(c.args[0]))));
    assert.equal((await fetchBuffer(`${base}/glimpser/front.mjpg`, 'HEAD')).status, 404);
  });

  it('applies httpNodeMiddleware and httpNodeCors like the http-in node', async function () {
    const seen = [];
    const mw = (req, res, next) => {
      seen.push(req.url);
      if (req.headers['x-token'] !== 'yes') {
        res.statusCode = 401;
        return res.end('no');
      }
      next();
    };
    const out = await load(flow(), { httpNodeMiddleware: mw, httpNodeCors: { origin: '*' } });
    out.receive({ payload: frames[0] });
    assert.equal((await fetchBuffer(`${base}/glimpser/front.jpg`)).status, 401);
    const ok = await new Promise((resolve, reject) => {
      http.get(`${base}/glimpser/front.jpg`, { headers: { 'x-token': 'yes', origin: 'http://x' }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res));
      }).on('error', reject);
    });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.headers['access-control-allow-origin'], '*');
    assert.ok(seen.includes('/glimpser/front.jpg'));
  });

  it('writes parts straight to the socket under Node-RED, and through res.write when a middleware wraps it', async function () {
    let wrapped = 0;
    const mw = (req, res, next) => {
      if (req.headers['x-wrap'] === 'yes') {
        const write = res.write;
        res.write = function (...args) {
          wrapped++;
          return write.apply(this, args);
        };
      }
      next();
    };
    const out = await load(flow(), { httpNodeMiddleware: mw });
    out.receive({ payload: frames[0] });
    const plain = await openStream(`${base}/glimpser/front.mjpg`);
    const viaWrapper = await openStream(`${base}/glimpser/front.mjpg`, { headers: { 'x-wrap': 'yes' } });
    await until(() => viewersShown(out) === 2, '2 viewers');
    assert.equal(plain.res.headers['transfer-encoding'], undefined);
    assert.equal(plain.res.headers.connection, 'close');
    await Promise.all([nextParts(plain, 1), nextParts(viaWrapper, 1)]);
    const got = [nextParts(plain, 3), nextParts(viaWrapper, 3)];
    for (const f of frames.slice(1, 4)) {
      out.receive({ payload: f });
      await delay(15);
    }
    for (const bodies of await Promise.all(got)) bodies.forEach((b, i) => assert.ok(b.equals(frames[i + 1]), `frame ${i + 1}`));
    assert.ok(wrapped >= 4, `the wrapped res.write carried the parts (${wrapped} calls)`);
    plain.close();
    viaWrapper.close();
    await until(() => viewersShown(out) === 0, 'viewers gone');
  });

  describe('with a camera to serve (an on-demand ffmpeg-source wired in)', function () {
    const camera = (wires = [['out']], props = {}) => [
      { id: 'pool', type: 'glimpser-process-pool', idleGrace: 0.5 },
      { id: 'cam', type: 'glimpser-ffmpeg-source', name: 'front', pool: 'pool', source: 'testsrc2=size=320x240:rate=10', fps: 10, quality: 5, lowFps: 0, startMode: 'demand', wires, ...props },
    ];
    const cameraState = () => lastStatus(helper.getNode('cam'))?.text;

    it('a viewer starts the camera: a placeholder first, then its frames; the camera stops after its grace when the viewer leaves', async function () {
      const out = await load([...camera(), flow()[1]]);
      assert.equal(cameraState(), 'idle (on demand)');
      const a = await openStream(`${base}/glimpser/front.mjpg`);
      const [first] = await nextParts(a, 1);
      assert.ok(first.placeholder, 'placeholder before the first frame');
      await until(() => a.queue.some((x) => !x.placeholder), 'real frames');
      assert.match(cameraState(), /^healthy/);
      assert.equal(viewersShown(out), 1);
      a.close();
      await until(() => viewersShown(out) === 0, 'viewer gone');
      await until(() => cameraState() === 'idle (on demand)', 'camera stopped after its idle grace', 15000);
    });

    /** Pixels of the failed state's red (#e04040) in a placeholder: its state line is drawn in it. */
    async function redPixels(jpeg) {
      const { data, info } = await require('sharp')(jpeg).raw().toBuffer({ resolveWithObject: true });
      let n = 0;
      for (let i = 0; i < data.length; i += info.channels) if (data[i] > 180 && data[i + 1] < 110 && data[i + 2] < 110) n++;
      return n;
    }

    it('a camera whose settings were refused (fps 0): red status with its reason, the still a 503 at once, viewers get the failed placeholder', async function () {
      const out = await load([...camera([['out']], { fps: 0 }), flow({ stillTimeout: 60 })[1]]);
      const reason = 'Frame rate (fps) must be a number from 0.1 to 60, got "0"';
      assert.deepEqual(lastStatus(out), { fill: 'red', shape: 'ring', text: `camera failed: ${reason}` });
      const t0 = Date.now();
      const still = await fetchBuffer(`${base}/glimpser/front.jpg`);
      assert.ok(Date.now() - t0 < 10000, 'at once, not after the 60 s still timeout');
      assert.equal(still.status, 503);
      assert.equal(still.headers['retry-after'], '5');
      assert.equal(still.body.toString(), `503 Service Unavailable: camera failed: ${reason}\n`);
      const viewer = await openStream(`${base}/glimpser/front.mjpg`);
      const [ph] = await nextParts(viewer, 1);
      assert.ok(ph.placeholder);
      assert.ok((await redPixels(ph)) > 100, 'the placeholder says failed, in red');
      viewer.close();
    });

    it('a Stream field naming a stream no camera defines: failed once the deploy is over; its still says so at once', async function () {
      const out = await load([flow({ stream: 'nowhere', stillTimeout: 60 })[1]]);
      await until(() => lastStatus(out)?.fill === 'red', 'red status');
      assert.deepEqual(lastStatus(out), { fill: 'red', shape: 'ring', text: 'camera failed: no source node defines this stream' });
      const still = await fetchBuffer(`${base}/glimpser/front.jpg`);
      assert.equal(still.status, 503);
      assert.match(still.body.toString(), /camera failed: no source node defines this stream/);
    });

    it('?width=320 of a 640-wide camera: every picture is 320 wide, the first one too', async function () {
      const sharp = require('sharp');
      await load([...camera([['out']], { source: 'testsrc2=size=640x480:rate=10', startMode: 'always', lowFps: 0.5 }), flow()[1]]);
      // Running at its low rate, nobody watching: the endpoint has the last frame (640 wide), no thumbnail of it.
      await until(async () => (await fetchBuffer(`${base}/glimpser/front.jpg`)).status === 200, 'a frame');
      const viewer = await openStream(`${base}/glimpser/front.mjpg?width=320`);
      const parts = await nextParts(viewer, 5);
      const widths = await Promise.all(parts.map(async (b) => (await sharp(b).metadata()).width));
      assert.deepEqual(widths, [320, 320, 320, 320, 320]);
      viewer.close();
    });

    it('the still of an idle on-demand camera starts it and answers with its first frame; the camera stops again', async function () {
      await load([...camera(), flow()[1]]);
      const r = await fetchBuffer(`${base}/glimpser/front.jpg`);
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'image/jpeg');
      assert.ok(r.body.length > 1000 && r.body[0] === 0xff && r.body[1] === 0xd8);
      await until(() => cameraState() === 'idle (on demand)', 'camera stopped after its idle grace', 15000);
    });
  });
});

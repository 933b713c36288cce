'use strict';
// Viewers behind one address: Home Assistant's mjpeg camera and every reverse proxy bring all their viewers from one
// client address. The per-address limit is off unless set; where Node-RED's `httpServerOptions` set Express's
// `trust proxy`, viewers count by the address X-Forwarded-For names (a real `node-red` process, its settings.js as a
// user writes it); without it the header changes nothing. Refused viewers show in /glimpser/metrics by reason.
const assert = require('node:assert/strict');
const http = require('node:http');
const helper = require('../helpers/node-red').testHelper();
const { withCatalogs } = require('../helpers/i18n');
const { openStream, nextParts, fetchBuffer } = require('../helpers/mjpeg-client');
const { recordFrames } = require('../helpers/ffmpeg-frames');
const { startNodeRed } = require('../helpers/node-red-process');
const { viewersShown } = require('../helpers/node-status');
const { until } = require('../helpers/procs');
const { useHttpRuntime } = require('../helpers/red-http');

const [mjpegOut] = withCatalogs([require('../../nodes/mjpeg-out.js')]);

/** A viewer's request as a proxy forwards it: a 200 opens the stream, anything else resolves with the status. */
function view(url, forwardedFor) {
  return openStream(url, forwardedFor ? { headers: { 'x-forwarded-for': forwardedFor } } : {}).catch((err) => {
    if (err.status) return err.status;
    throw err;
  });
}

describe('viewers behind one address (proxies, Home Assistant)', function () {
  this.timeout(90000);

  describe('in the test runtime', function () {
    const rt = useHttpRuntime(helper);
    let frames;
    before(async function () {
      frames = await recordFrames({ count: 10, size: '320x240' });
    });
    const out = (props) => ({ id: 'out', type: 'glimpser-mjpeg-out', name: 'front', path: '/glimpser/front.mjpg', stillPath: '', maxViewers: 100, stallTimeout: 30, stillTimeout: 10, wires: [], ...props });

    it('30 viewers from one address all get 200 and frames (Per address left empty, as a new node has it)', async function () {
      await rt.load([mjpegOut], [out({ maxPerAddress: '' })]);
      const node = helper.getNode('out');
      node.receive({ payload: frames[0] });
      const viewers = await Promise.all(Array.from({ length: 30 }, () => view(`${rt.base}/glimpser/front.mjpg`)));
      assert.deepEqual(viewers.filter((v) => typeof v === 'number'), [], 'no viewer refused');
      await until(() => viewersShown(node) === 30, '30 viewers');
      await Promise.all(viewers.map((v) => nextParts(v, 1)));
      const next = viewers.map((v) => nextParts(v, 1));
      node.receive({ payload: frames[1] });
      for (const [b] of await Promise.all(next)) assert.ok(b.equals(frames[1]), 'every viewer gets the new frame');
      for (const v of viewers) v.close();
    });

    it('a Per address limit still limits; without trust proxy X-Forwarded-For changes nothing (it could be forged)', async function () {
      await rt.load([mjpegOut], [out({ maxPerAddress: 2 })]);
      helper.getNode('out').receive({ payload: frames[0] });
      const url = `${rt.base}/glimpser/front.mjpg`;
      const a = await view(url, '203.0.113.1');
      const b = await view(url, '203.0.113.2');
      assert.equal(await view(url, '203.0.113.3'), 429, 'all three come from 127.0.0.1');
      a.close();
      b.close();
    });
  });

  describe('a real node-red with httpServerOptions: { "trust proxy": "loopback" }', function () {
    let nr;
    after(async function () {
      await nr?.stop();
    });

    it('viewers count by the forwarded address; refusals show in the metrics by reason', async function () {
      const z = 'tab';
      nr = await startNodeRed(
        [
          { id: z, type: 'tab', label: 'cams' },
          { id: 'pool', type: 'glimpser-process-pool', name: 'cams', idleGrace: 1 },
          { id: 'cam', z, x: 100, y: 100, type: 'glimpser-ffmpeg-source', name: 'front', pool: 'pool', source: 'testsrc2=size=160x120:rate=5', fps: 5, quality: 8, startMode: 'always', wires: [['out']] },
          { id: 'out', z, x: 300, y: 100, type: 'glimpser-mjpeg-out', name: 'front', stream: '', path: '/glimpser/front.mjpg', stillPath: '', maxViewers: 5, maxPerAddress: 2, stallTimeout: 30, stillTimeout: 10, wires: [] },
          { id: 'metrics', z, x: 100, y: 200, type: 'glimpser-metrics', name: '', path: '/glimpser/metrics', healthPath: '', processMetrics: false },
        ],
        // As a user writes it in settings.js: trust the proxy on this machine (Home Assistant's, nginx's).
        { settings: `httpServerOptions: { 'trust proxy': 'loopback' },` },
      );
      const base = `http://127.0.0.1:${nr.port}`;
      const url = `${base}/glimpser/front.mjpg`;
      const refused = async (reason) => {
        const text = (await fetchBuffer(`${base}/glimpser/metrics`)).body.toString();
        const m = new RegExp(`^glimpser_camera_viewers_refused_total\\{reason="${reason}",stream="front",pool="cams"\\} (\\d+)$`, 'm').exec(text);
        return m ? Number(m[1]) : undefined;
      };
      await until(async () => (await refused('full')) === 0, 'the stream in the metrics, nothing refused yet', 30000);
      assert.equal(await refused('address'), 0);

      const open = [];
      for (const client of ['203.0.113.1', '203.0.113.1']) open.push(await view(url, client));
      assert.equal(await view(url, '203.0.113.1'), 429, 'a third from the same forwarded address');
      for (const client of ['203.0.113.2', '203.0.113.3', '203.0.113.3']) open.push(await view(url, client));
      assert.ok(open.every((v) => typeof v !== 'number'), 'two per forwarded address admitted, though all come from 127.0.0.1');
      await Promise.all(open.map((v) => nextParts(v, 1)));
      // Full (5 of 5) and the slots even (2, 1, 2): a newcomer from the address with one gets no other's slot.
      assert.equal(await view(url, '203.0.113.2'), 503);
      assert.equal(await refused('address'), 1);
      assert.equal(await refused('full'), 1);
      for (const v of open) v.close();
    });
  });
});

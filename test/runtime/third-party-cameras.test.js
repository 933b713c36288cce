'use strict';
// Real third-party MJPEG cameras read through the product as a user reads them: the `motion` daemon, FFmpeg's own
// HTTP server (one client at a time, as an ESP32-CAM) and VLC (declaring multipart/x-mixed-replace, and with its
// default application/octet-stream), each read by a glimpser-ffmpeg-source in each read mode (auto, FFmpeg,
// pass-through) wired to a glimpser-mjpeg-out in a real Node-RED runtime, and a real HTTP viewer on the stream URL.
//
// Over one 20 s window (after the viewers have been connected for WARMUP_MS), for each camera × mode:
// - frames delivered to the viewer / frames the camera sent in the same window is within 0.98 … 1.02 (a frame or two);
//   what the camera sent is what a reference client connected straight to it received in the window (motion, VLC;
//   or what it wrote to the product, when that is more), or, for FFmpeg's single-client server, the clip's frames at its rate over the window (it makes them whether or
//   not its one client keeps the connection; its JPEGs are the clip's, byte for byte);
// - pass-through, and auto (every one of these cameras answers MJPEG, so auto must read it pass-through): byte for
//   byte, every JPEG delivered is one the camera wrote to the product, none skipped and none repeated. motion paces
//   each client on its own (under load two clients get different pictures), so the product reads motion and VLC
//   through a relay that records what the camera wrote on the product's own connection;
// - FFmpeg (which re-encodes: identical consecutive JPEGs are a doubled picture): no picture twice in a row, unless
//   the camera itself wrote it twice on the product's connection.
// The same bar is first met by a plain client on each camera (the yardstick): a failure there is the machine's or
// the camera's, not the product's. Every combination runs at once in one runtime (the rig gives each reader a camera
// endpoint of its own), so the file costs one window. Cameras and recording clients run in a child process
// (camera-recorder.js), so this process's load does not move frames across the window's edges. Every camera process
// is stopped in `after`, even on failure, and checked gone.
const assert = require('node:assert/strict');
const http = require('node:http');
const helper = require('../helpers/node-red').testHelper();
const { withCatalogs } = require('../helpers/i18n');
const [poolNode, sourceNode, mjpegOut] = withCatalogs([
  require('../../nodes/process-pool.js'),
  require('../../nodes/ffmpeg-source.js'),
  require('../../nodes/mjpeg-out.js'),
]);
const { delay } = require('../helpers/procs');
const { CAMERAS } = require('../helpers/camera-rig');
const { startRecorder } = require('../helpers/camera-recorder');
const { lastStatus } = require('../helpers/node-status');

/** The text under a node, or undefined without one (or without the node). */
const statusText = (node) => (node ? lastStatus(node)?.text : undefined);

const FPS = 10;
const WINDOW_MS = 20000;
/** Sources start at deploy (start mode always) before any viewer, as a camera on a dashboard does. */
const SETTLE_MS = 3000;
/** A viewer's arrival switches a source to full rate (a new FFmpeg output, or the first frame of a connection). */
const WARMUP_MS = 5000;
const MODES = ['auto', 'ffmpeg', 'passthrough'];
/** A plain HTTP client straight on the camera (through its relay): the yardstick. */
const CLIENT = 'client';

/** The test helper spies on the Node prototype: a node's own calls are those made on it. */

describe('third-party MJPEG cameras through a real Node-RED (motion, FFmpeg -listen, VLC × auto, FFmpeg, pass-through)', function () {
  this.timeout(120000);
  let rec;
  let server;
  const results = new Map();

  before(async function () {
    // The cameras and every recording client live in a child process (see camera-recorder.js): the window's edges
    // are decided there, away from this process's Node-RED.
    rec = await startRecorder([CLIENT, ...MODES], { fps: FPS });
    const flow = [{ id: 'pool', type: 'glimpser-process-pool', name: 'cameras' }];
    for (const { id, reader, url } of rec.endpoints) {
      if (reader === CLIENT) continue;
      flow.push(
        { id: `src-${id}`, type: 'glimpser-ffmpeg-source', name: id, pool: 'pool', source: url, mode: reader, fps: FPS, quality: 5, startMode: 'always', wires: [[`out-${id}`]] },
        { id: `out-${id}`, type: 'glimpser-mjpeg-out', name: id, path: `/cams/${id}.mjpg`, stillPath: `/cams/${id}.jpg`, wires: [] },
      );
    }
    let httpNode;
    await new Promise((r) => helper.startServer(r));
    await helper.load([poolNode, sourceNode, mjpegOut, (RED) => (httpNode = RED.httpNode)], flow);
    server = http.createServer((req, res) => httpNode(req, res));
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${server.address().port}`;

    await delay(SETTLE_MS);
    await rec.view(rec.endpoints.map(({ id, reader, url }) => ({ id, url: reader === CLIENT ? url : `${base}/cams/${id}.mjpg` })));
    await delay(WARMUP_MS);
    const judged = await rec.window(WINDOW_MS);
    for (const { id } of rec.endpoints) results.set(id, { ...judged[id], status: statusText(helper.getNode(`src-${id}`)) });
  });

  after(async function () {
    await helper.unload().catch(() => {});
    if (server) {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    await new Promise((r) => helper.stopServer(r));
    const left = rec ? await rec.stop() : [];
    assert.deepEqual(left, [], 'every camera process is gone');
  });

  for (const camera of CAMERAS) {
    for (const reader of [CLIENT, ...MODES]) {
      const id = `${camera.id}-${reader}`;
      const byteForByte = reader !== 'ffmpeg';
      const how = reader === CLIENT ? 'a plain client straight on it (the yardstick)' : `read ${reader}`;
      it(`${camera.what}, ${how}: frames delivered / sent ≥ 0.98 over 20 s, ${byteForByte ? 'byte for byte' : 'no picture twice in a row'}`, function () {
        const r = results.get(id);
        const figure = `${r.delivered}/${r.sent} = ${r.ratio.toFixed(3)}`;
        this.test.title += ` [${figure}]`;
        const why = `${id}: delivered ${figure}, placeholders ${r.placeholders}, repeats ${r.repeats} (camera ${r.cameraRepeats})` +
          `${byteForByte ? `, not from the camera ${r.unknown}, skipped ${r.skipped}` : ''}` +
          `${r.events.length ? ` (${r.events.join(', ')})` : ''}${r.status ? `; source status "${r.status}"` : ''}` +
          `${r.viewerError ? `; viewer: ${r.viewerError}` : ''}; the camera wrote ${r.written} frames to this reader in the window` +
          `${r.accepted === undefined ? `, on ${r.connections} connections in all` : `, accepted ${r.accepted} connections in all`}`;
        if (r.accepted === undefined) assert.ok(r.sent >= 0.8 * FPS * (WINDOW_MS / 1000), `the camera sent too little to judge by: ${why}`);
        assert.ok(r.ratio >= 0.98 && r.ratio <= 1.02, why);
        assert.ok(r.repeats <= r.cameraRepeats, `a picture delivered twice in a row: ${why}`);
        if (byteForByte) {
          assert.equal(r.unknown, 0, `JPEGs the camera never sent: ${why}`);
          assert.equal(r.skipped, 0, `camera frames missing: ${why}`);
        }
      });
    }
  }
});

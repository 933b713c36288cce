'use strict';
// The server side of benches that watch one stream from outside (bench/recovery.js, bench/recycle.js): run in a child
// process so that this process can be the viewer and find the server's FFmpeg among its children. A ProcessPool with
// one always-on stream, an MjpegEndpoint fed by the stream's frames (the camera → mjpeg-out wire) on a loopback HTTP
// server at /bench.mjpg; it tells its parent the port, and stops everything when told to exit.
const http = require('node:http');
const path = require('node:path');

const dist = process.env.GLIMPSER_DIST || path.join(__dirname, '..', '..', 'dist');

function serveStream(capture, poolOptions) {
  const { ProcessPool } = require(path.join(dist, 'core', 'stream', 'pool'));
  const { MjpegEndpoint } = require(path.join(dist, 'core', 'serve', 'mjpeg-endpoint'));
  const pool = new ProcessPool({ idleGraceMs: 10000, ...poolOptions });
  const stream = pool.stream('bench');
  stream.define('source', { capture, lowFps: 0 });
  stream.use('source', { run: true, jpeg: 'full' });
  const ep = new MjpegEndpoint({ name: 'bench', consumerId: 'out', maxViewers: 10, stallTimeoutMs: 30000, stillTimeoutMs: 1000 });
  ep.setSource(stream);
  stream.on('frame', (f) => {
    if (f.jpeg) ep.frame(f.jpeg, f.seq, f.time);
  });
  const server = http.createServer((req, res) => ep.serveStream(req, res));
  server.listen(0, '127.0.0.1', () => process.send({ type: 'port', port: server.address().port }));
  process.on('message', async (m) => {
    if (m.type !== 'exit') return;
    server.closeAllConnections();
    server.close();
    ep.close('now');
    await pool.close();
    process.exit(0);
  });
}

module.exports = { serveStream, dist };

'use strict';
// One way of serving a camera to MJPEG viewers, in a child process of its own (fresh for each run), so its work
// and the viewers' (in the bench's process) do not share an event loop. Each way reports when each frame was whole
// in its process ("ready", named as bench/lib/part-timer.js names frames) over IPC.
//   ours-ffmpeg        ProcessPool → Stream (FFmpeg reads the camera) → MjpegEndpoint, as ffmpeg-source → mjpeg-out
//                      wire them in Node-RED (the stream's `frame` event is the ready time)
//   ours-passthrough   the same with pass-through: no FFmpeg, the camera's JPEGs forwarded
//   pipe2jpeg          FFmpeg with our input options, JPEGs back to back (-f mjpeg) split by pipe2jpeg, served by
//                      mjpeg-server (pipe2jpeg's `jpeg` event is the ready time)
//   spawn              the old way: one FFmpeg per frame (-frames:v 1), spawned again as soon as the last one ended,
//                      served by mjpeg-server (the spawned FFmpeg's exit is the ready time)
const { fork, spawn } = require('node:child_process');
const http = require('node:http');
const path = require('node:path');
const { keyOf } = require('./part-timer');

const WAYS = ['ours-ffmpeg', 'ours-passthrough', 'pipe2jpeg', 'spawn'];
const dist = process.env.GLIMPSER_DIST || path.join(__dirname, '..', '..', 'dist');

/** Starts `way` for the camera at `camUrl`; resolves with { url, readyNs (Map key → ns), close() }. */
async function forkWay(way, camUrl, { fps = 10, quality = 5 } = {}) {
  if (!WAYS.includes(way)) throw new Error(`unknown way ${way}`);
  const child = fork(__filename, ['--child', way, camUrl, String(fps), String(quality)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const readyNs = new Map();
  child.on('message', (m) => {
    if (m.type === 'ready') for (const [k, ns] of m.list) if (!readyNs.has(k)) readyNs.set(k, BigInt(ns));
  });
  const port = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${way} exited (${code})`)));
    const fn = (m) => {
      if (m.type === 'port') {
        child.off('message', fn);
        resolve(m.port);
      }
    };
    child.on('message', fn);
  });
  return {
    url: `http://127.0.0.1:${port}/stream.mjpg`,
    readyNs,
    close: () => new Promise((resolve) => {
      child.removeAllListeners('exit');
      child.once('exit', resolve);
      child.send({ type: 'exit' });
    }),
  };
}

async function childMain(way, camUrl, fps, quality) {
  let ready = [];
  const stamp = (jpeg) => ready.push([keyOf(jpeg), String(process.hrtime.bigint())]);
  setInterval(() => {
    if (ready.length) process.send({ type: 'ready', list: ready });
    ready = [];
  }, 250);
  const capture = { source: camUrl, fps, quality };
  let handler;
  let stop = async () => {};
  if (way === 'ours-ffmpeg' || way === 'ours-passthrough') {
    const { ProcessPool } = require(path.join(dist, 'core', 'stream', 'pool'));
    const { MjpegEndpoint } = require(path.join(dist, 'core', 'serve', 'mjpeg-endpoint'));
    const pool = new ProcessPool({ idleGraceMs: 10000 });
    const stream = pool.stream('bench');
    stream.define('source', { capture: { ...capture, passthrough: way === 'ours-passthrough' }, lowFps: 0 });
    stream.use('source', { run: true, jpeg: 'full' });
    // Every bench viewer comes from 127.0.0.1: no per-address limit here.
    const ep = new MjpegEndpoint({ name: 'bench', consumerId: 'out', maxViewers: 5000, maxPerAddress: 5000, stallTimeoutMs: 30000, stillTimeoutMs: 1000 });
    ep.setSource(stream);
    stream.on('frame', (f) => {
      if (!f.jpeg) return;
      stamp(f.jpeg);
      ep.frame(f.jpeg, f.seq, f.time);
    });
    handler = (req, res) => ep.serveStream(req, res);
    stop = async () => {
      ep.close('now');
      await pool.close();
    };
  } else {
    const mjpegServer = require('mjpeg-server');
    const viewers = new Set();
    const fan = (jpeg) => {
      stamp(jpeg);
      for (const v of viewers) v.write(jpeg);
    };
    handler = (req, res) => {
      const v = mjpegServer.createReqHandler(req, res);
      viewers.add(v);
      res.on('close', () => viewers.delete(v));
    };
    if (way === 'pipe2jpeg') {
      const { buildArgs } = require(path.join(dist, 'core', 'ffmpeg', 'args'));
      // Our input options (arrival-time stamps, the fps filter), JPEGs back to back for pipe2jpeg to scan.
      const args = buildArgs({ ...capture, decoderThreads: 1 });
      const at = args.indexOf('mpjpeg');
      args.splice(at - 1, 4, '-f', 'mjpeg');
      const P2J = require('pipe2jpeg');
      const p2j = new P2J();
      p2j.on('jpeg', fan);
      const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'inherit'] });
      child.stdout.pipe(p2j);
      stop = () => new Promise((r) => {
        if (child.exitCode !== null || child.signalCode !== null) return r();
        child.once('close', r);
        child.kill('SIGTERM');
      });
    } else {
      let running = true;
      let current;
      const once = () => new Promise((resolve) => {
        const out = [];
        current = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-i', camUrl, '-frames:v', '1', '-q:v', String(quality), '-f', 'mjpeg', 'pipe:1'], { stdio: ['ignore', 'pipe', 'ignore'] });
        current.stdout.on('data', (c) => out.push(c));
        current.on('close', (code) => resolve(code === 0 ? Buffer.concat(out) : undefined));
      });
      (async () => {
        while (running) {
          const jpeg = await once();
          if (jpeg && jpeg.length > 4 && running) fan(jpeg);
        }
      })();
      stop = async () => {
        running = false;
        if (current && current.exitCode === null && current.signalCode === null) await new Promise((r) => current.once('close', r));
      };
    }
  }
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1', () => process.send({ type: 'port', port: server.address().port }));
  process.on('message', async (m) => {
    if (m.type !== 'exit') return;
    server.closeAllConnections();
    server.close();
    await stop();
    process.exit(0);
  });
}

if (require.main === module && process.argv[2] === '--child') childMain(process.argv[3], process.argv[4], Number(process.argv[5]), Number(process.argv[6]));

module.exports = { forkWay, WAYS };

'use strict';
// A live MJPEG-over-HTTP camera for benches: one clock ticks at the camera's rate and each tick writes the same
// part to every connected client (a new client gets frames from the next tick on, as from a real camera). The
// caller chooses each tick's JPEG and learns when it was written, so a frame's age can be measured wherever it
// arrives. Ticks follow a drift-free schedule (tick i is due at start + i / fps), so a late tick is not carried
// into the next.
const http = require('node:http');

const BOUNDARY = 'tickcam';

function part(jpeg) {
  return Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`, 'latin1'),
    jpeg,
    Buffer.from('\r\n'),
  ]);
}

/**
 * Starts the camera on 127.0.0.1. `frameFor(i)` returns tick i's JPEG; `onTick(i, ns, jpeg)` is told right before
 * the write, with process.hrtime.bigint() (CLOCK_MONOTONIC: the same clock in every process of the machine).
 * Every path answers the stream; `/still.jpg` answers the newest frame once.
 */
async function startTickCamera({ fps = 10, frameFor, onTick = () => {} }) {
  const clients = new Set();
  const sockets = new Set();
  let latest;
  const server = http.createServer((req, res) => {
    if (req.url.startsWith('/still')) {
      if (!latest) {
        res.writeHead(503).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': latest.length, 'Cache-Control': 'no-cache' });
      res.end(latest);
      return;
    }
    res.writeHead(200, { 'Content-Type': `multipart/x-mixed-replace; boundary=${BOUNDARY}`, 'Cache-Control': 'no-cache' });
    clients.add(res);
    res.on('close', () => clients.delete(res));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const t0 = performance.now();
  let i = 0;
  let timer;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    const jpeg = frameFor(i);
    latest = jpeg;
    const p = part(jpeg);
    onTick(i, process.hrtime.bigint(), jpeg);
    for (const res of clients) res.write(p);
    i++;
    timer = setTimeout(tick, Math.max(0, t0 + i * (1000 / fps) - performance.now()));
  };
  timer = setTimeout(tick, 0);
  return {
    url: `http://127.0.0.1:${server.address().port}/cam.mjpg`,
    port: server.address().port,
    get clients() {
      return clients.size;
    },
    get ticks() {
      return i;
    },
    async close() {
      stopped = true;
      clearTimeout(timer);
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

module.exports = { startTickCamera, BOUNDARY };

/**
 * The same camera in a child process of its own (so the benches' viewers cannot delay its clock), serving `frames`
 * in a loop. Resolves with { url, sent, close() }: sent[i] is tick i's process.hrtime.bigint(), reported as they happen.
 */
async function forkTickCamera(frames, { fps = 10 } = {}) {
  const { fork } = require('node:child_process');
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpser-tickcam-'));
  const file = path.join(dir, 'frames.json');
  fs.writeFileSync(file, JSON.stringify(frames.map((f) => f.toString('base64'))));
  const child = fork(__filename, ['--child', file, String(fps)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const sent = [];
  child.on('message', (m) => {
    if (m.type === 'ticks') for (const [i, s] of m.list) sent[i] = BigInt(s);
  });
  const url = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`camera exited (${code})`)));
    const fn = (m) => {
      if (m.type === 'url') {
        child.off('message', fn);
        resolve(m.url);
      }
    };
    child.on('message', fn);
  });
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    url,
    sent,
    close: () => new Promise((resolve) => {
      child.removeAllListeners('exit');
      child.once('exit', resolve);
      child.send({ type: 'exit' });
    }),
  };
}

module.exports.forkTickCamera = forkTickCamera;

if (require.main === module && process.argv[2] === '--child') {
  const frames = JSON.parse(require('node:fs').readFileSync(process.argv[3], 'utf8')).map((b) => Buffer.from(b, 'base64'));
  let batch = [];
  startTickCamera({ fps: Number(process.argv[4]), frameFor: (i) => frames[i % frames.length], onTick: (i, ns) => batch.push([i, String(ns)]) }).then((cam) => {
    setInterval(() => {
      if (batch.length) process.send({ type: 'ticks', list: batch });
      batch = [];
    }, 200);
    process.send({ type: 'url', url: cam.url });
    process.on('message', (m) => {
      if (m.type === 'exit') cam.close().then(() => process.exit(0));
    });
  });
}

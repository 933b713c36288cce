'use strict';
// Fan-out of one 1280x720 10 fps MJPEG stream (~60 KB frames, a recorded FFmpeg testsrc2 sequence looped in
// memory) to N = 10, 100, 1000 loopback viewers, each N with 10 stalled viewers (connected, never reading)
// present, served by our MjpegEndpoint and by the npm package `mjpeg-server`, one after the other in the
// same run, to the same client code.
//
// Method
// - The server runs in a child process (fresh for every run), so its CPU (process.cpuUsage) and RSS exclude
//   the clients, which all run in this process.
// - Latency: each frame is stamped when it becomes ready in the server process: a JPEG COM segment right after
//   SOI carries the frame's sequence number and process.hrtime.bigint(), which reads CLOCK_MONOTONIC, one clock
//   for every process on the machine. A viewer's latency for a frame is its own hrtime when the last byte of
//   that part arrived minus the stamp. The stamping copy is made once per frame, for both servers alike.
// - Delivered fps: complete parts per viewer during the measuring window (after a warm-up), stalled viewers
//   excluded. Server CPU per delivered frame: the child's user+system CPU during the window divided by those
//   parts. RSS: sampled in the child every 500 ms.
// - Each server is started with --expose-gc and runs a full GC right before its window, so a one-off collection
//   of start-up garbage (module loading, sharp's first placeholder) does not land in one server's 8 s window and
//   not the other's; collections the steady state causes still count. GC ms: time in GC during the window.
// - --rounds K repeats every pair K times (alternating which goes first in each round) and reports per-server
//   medians over the rounds; the ratio row is the ratio of those medians.
// Run: npm run build && node bench/fanout.js   [--quick: N = 10, 100 only] [--rounds K] [--ns 10,100]
// GLIMPSER_DIST=/path/to/dist serves "ours" from another build (e.g. an older commit's) to compare before/after.
const { fork, spawn } = require('node:child_process');
const http = require('node:http');
const os = require('node:os');
const fs = require('node:fs');
const path = require('node:path');

const FPS = 10;
// The warm-up also lets the stalled viewers' kernel socket buffers (~4 MB each on loopback) fill up, so the
// window sees what each server does with frames it cannot hand to the kernel.
const WARMUP_MS = 8000;
const WINDOW_MS = 8000;
const STALLED = 10;
const COM_LEN = 2 + 4 + 4 + 8; // length field + 'GLMP' + seq + hrtime
const MAGIC = Buffer.from('GLMP');

function stamp(jpeg, seq) {
  const out = Buffer.allocUnsafe(jpeg.length + 2 + COM_LEN);
  out[0] = 0xff;
  out[1] = 0xd8;
  out[2] = 0xff;
  out[3] = 0xfe;
  out.writeUInt16BE(COM_LEN, 4);
  MAGIC.copy(out, 6);
  out.writeUInt32BE(seq >>> 0, 10);
  jpeg.copy(out, 22, 2);
  out.writeBigUInt64BE(process.hrtime.bigint(), 14);
  return out;
}

// ---------------------------------------------------------------------------------------------- server side
async function serverMain(kind, framesFile) {
  const frames = JSON.parse(fs.readFileSync(framesFile, 'utf8')).map((b64) => Buffer.from(b64, 'base64'));
  let onFrame;
  let handler;
  if (kind === 'ours') {
    const dist = process.env.GLIMPSER_DIST || path.join(__dirname, '..', 'dist');
    const { MjpegEndpoint } = require(path.join(dist, 'core', 'serve', 'mjpeg-endpoint'));
    // Every bench viewer comes from 127.0.0.1: no per-address limit here.
    const ep = new MjpegEndpoint({
      name: 'bench', consumerId: 'bench', maxViewers: 5000, maxPerAddress: 5000, stallTimeoutMs: 30000, stillTimeoutMs: 1000,
    });
    onFrame = (jpeg, seq) => ep.frame(jpeg, seq);
    handler = (req, res) => ep.serveStream(req, res);
  } else {
    const mjpegServer = require('mjpeg-server');
    const viewers = new Set();
    onFrame = (jpeg) => {
      for (const v of viewers) v.write(jpeg);
    };
    handler = (req, res) => {
      const v = mjpegServer.createReqHandler(req, res);
      viewers.add(v);
      res.on('close', () => viewers.delete(v));
    };
  }
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1', () => process.send({ type: 'port', port: server.address().port }));
  let seq = 0;
  // Drift-free 10 fps clock.
  const t0 = performance.now();
  const tick = () => {
    seq++;
    onFrame(stamp(frames[seq % frames.length], seq), seq);
    setTimeout(tick, Math.max(0, t0 + (seq + 1) * (1000 / FPS) - performance.now()));
  };
  setTimeout(tick, 1000 / FPS);
  const rss = [];
  setInterval(() => rss.push(process.memoryUsage().rss), 500).unref();
  let gcMs = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  }).observe({ entryTypes: ['gc'] });
  let cpu0;
  process.on('message', (m) => {
    if (m.type === 'start') {
      if (typeof global.gc === 'function') global.gc();
      gcMs = 0;
      cpu0 = process.cpuUsage();
      rss.length = 0;
      rss.push(process.memoryUsage().rss);
    } else if (m.type === 'stop') {
      const cpu = process.cpuUsage(cpu0);
      rss.push(process.memoryUsage().rss);
      process.send({ type: 'result', cpuUs: cpu.user + cpu.system, userUs: cpu.user, sysUs: cpu.system, rss, frames: seq, gcMs });
    } else if (m.type === 'exit') {
      server.closeAllConnections();
      process.exit(0);
    }
  });
}

// ---------------------------------------------------------------------------------------------- client side
function recordFrames() {
  return new Promise((resolve, reject) => {
    const ffmpeg = process.env.FFMPEG_PATH || 'ffmpeg';
    // q:v 4 gives ~60 KB per 1280x720 testsrc2 frame.
    const child = spawn(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=10',
      '-frames:v', '50', '-f', 'mjpeg', '-q:v', process.env.BENCH_Q || '4', 'pipe:1'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks = [];
    child.stdout.on('data', (c) => chunks.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`ffmpeg exit ${code}`));
      const { splitJpegs } = require('../test/helpers/ffmpeg-frames');
      resolve(splitJpegs(Buffer.concat(chunks)).map((f) => Buffer.from(f)));
    });
  });
}

function connectViewer(port, stalled, stats) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/stream.mjpg', agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
      if (stalled) {
        res.pause();
        return resolve({ req, res });
      }
      const boundary = /boundary=([^;]+)/.exec(res.headers['content-type'])[1];
      const { MultipartParser } = require('../test/helpers/mjpeg-client');
      const parser = new MultipartParser(boundary, { keep: 'head', headBytes: 24 });
      const v = { parts: 0 };
      stats.viewers.push(v);
      parser.on('part', (head) => {
        const now = process.hrtime.bigint();
        if (!stats.measuring) return;
        v.parts++;
        if (head.length >= 22 && head[2] === 0xff && head[3] === 0xfe && head.subarray(6, 10).equals(MAGIC)) {
          stats.latencies.push(Number(now - head.readBigUInt64BE(14)) / 1e6);
        }
      });
      parser.on('error', (err) => {
        stats.errors++;
        res.destroy(err);
      });
      res.on('data', (c) => parser.push(c));
      res.on('error', () => {});
      resolve({ req, res });
    });
    req.on('error', reject);
  });
}

function pct(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function runOne(kind, n, framesFile) {
  const child = fork(__filename, ['--server', kind, framesFile], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: [...process.execArgv, '--expose-gc'],
  });
  const message = (type) => new Promise((r) => {
    const fn = (m) => {
      if (m.type === type) {
        child.off('message', fn);
        r(m);
      }
    };
    child.on('message', fn);
  });
  const { port } = await message('port');
  const stats = { viewers: [], latencies: [], measuring: false, errors: 0 };
  const conns = [];
  for (let i = 0; i < STALLED; i++) conns.push(await connectViewer(port, true, stats));
  for (let i = 0; i < n; i += 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => connectViewer(port, false, stats)));
    conns.push(...batch);
  }
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  stats.measuring = true;
  child.send({ type: 'start' });
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  stats.measuring = false;
  const seconds = (performance.now() - t0) / 1000;
  child.send({ type: 'stop' });
  const result = await message('result');
  for (const c of conns) c.req.destroy();
  child.send({ type: 'exit' });
  await new Promise((r) => child.on('exit', r));
  const fps = stats.viewers.map((v) => v.parts / seconds).sort((a, b) => a - b);
  const lat = stats.latencies.sort((a, b) => a - b);
  const delivered = stats.viewers.reduce((s, v) => s + v.parts, 0);
  return {
    kind, n,
    fpsMedian: pct(fps, 50), fpsP5: pct(fps, 5),
    cpuPerFrameUs: result.cpuUs / Math.max(1, delivered),
    userPerFrameUs: result.userUs / Math.max(1, delivered),
    sysPerFrameUs: result.sysUs / Math.max(1, delivered),
    cpuPct: (result.cpuUs / 1e6 / seconds) * 100,
    rssStartMB: result.rss[0] / 1048576, rssEndMB: result.rss[result.rss.length - 1] / 1048576,
    rssMaxMB: Math.max(...result.rss) / 1048576,
    rssGrowthMBs: (result.rss[result.rss.length - 1] - result.rss[0]) / 1048576 / seconds,
    latP50: pct(lat, 50), latP99: pct(lat, 99), errors: stats.errors, gcMs: result.gcMs,
  };
}

async function main() {
  const quick = process.argv.includes('--quick');
  const arg = (name) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const ns = arg('--ns') ? arg('--ns').split(',').map(Number) : quick ? [10, 100] : [10, 100, 1000];
  const rounds = Math.max(1, Number(arg('--rounds') || 1));
  let limit = NaN;
  try {
    limit = Number(require('node:child_process').execSync('ulimit -n', { shell: '/bin/sh' }).toString().trim());
  } catch {}
  if (Number.isFinite(limit) && limit < 2 * (Math.max(...ns) + STALLED) + 100) {
    console.error(`ulimit -n is ${limit}: too low for ${Math.max(...ns)} viewers; raise it (ulimit -n 8192)`);
    process.exit(1);
  }
  const frames = await recordFrames();
  const sizes = frames.map((f) => f.length).sort((a, b) => a - b);
  const framesFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'glimpser-fanout-')), 'frames.json');
  fs.writeFileSync(framesFile, JSON.stringify(frames.map((f) => f.toString('base64'))));
  console.log(`fan-out bench: 1280x720 @ ${FPS} fps, ${frames.length} frames looped, median frame ${(pct(sizes, 50) / 1024).toFixed(1)} KiB; ` +
    `+${STALLED} stalled viewers; ${rounds} round(s); warm-up ${WARMUP_MS / 1000} s, window ${WINDOW_MS / 1000} s; ${os.cpus().length} CPUs, node ${process.version}` +
    (process.env.GLIMPSER_DIST ? `; ours from ${process.env.GLIMPSER_DIST}` : ""));
  const runs = ns.map(() => ({ ours: [], 'mjpeg-server': [] }));
  let turn = 0;
  for (let round = 0; round < rounds; round++) {
    for (const [i, n] of ns.entries()) {
      // Alternate which server goes first, so slow drifts of a shared machine fall on both.
      const order = turn++ % 2 === 0 ? ['ours', 'mjpeg-server'] : ['mjpeg-server', 'ours'];
      for (const kind of order) runs[i][kind].push(await runOne(kind, n, framesFile));
    }
  }
  // Per server and N: the median of each figure over the rounds.
  const medianOf = (list) => {
    const out = { kind: list[0].kind, n: list[0].n };
    for (const key of Object.keys(list[0])) {
      if (key === 'kind' || key === 'n') continue;
      out[key] = pct(list.map((r) => r[key]).sort((a, b) => a - b), 50);
    }
    return out;
  };
  const rows = runs.map((r) => ({ ours: medianOf(r.ours), 'mjpeg-server': medianOf(r['mjpeg-server']) }));
  fs.rmSync(path.dirname(framesFile), { recursive: true, force: true });
  const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const head = ['N', 'server', 'fps med', 'fps p5', 'CPU %', 'CPU us/frame', '(user', 'sys)', 'RSS start MB', 'RSS max', 'RSS end', 'RSS MB/s', 'lat p50 ms', 'lat p99 ms', 'GC ms', 'errors'];
  const lines = [head];
  for (const pair of rows) {
    for (const kind of ['ours', 'mjpeg-server']) {
      const r = pair[kind];
      lines.push([String(r.n), kind, f(r.fpsMedian, 2), f(r.fpsP5, 2), f(r.cpuPct), f(r.cpuPerFrameUs), f(r.userPerFrameUs), f(r.sysPerFrameUs), f(r.rssStartMB), f(r.rssMaxMB), f(r.rssEndMB), f(r.rssGrowthMBs, 2), f(r.latP50, 2), f(r.latP99, 2), f(r.gcMs), String(r.errors)]);
    }
    const o = pair.ours;
    const t = pair['mjpeg-server'];
    lines.push([String(o.n), 'ratio ours/theirs', f(o.fpsMedian / t.fpsMedian, 2), f(o.fpsP5 / t.fpsP5, 2), f(o.cpuPct / t.cpuPct, 2), f(o.cpuPerFrameUs / t.cpuPerFrameUs, 2), f(o.userPerFrameUs / t.userPerFrameUs, 2), f(o.sysPerFrameUs / t.sysPerFrameUs, 2),
      '', '', '', f(o.rssGrowthMBs, 2) + ' vs ' + f(t.rssGrowthMBs, 2), f(o.latP50 / t.latP50, 2), f(o.latP99 / t.latP99, 2), '', '']);
  }
  const widths = head.map((_, c) => Math.max(...lines.map((l) => l[c].length)));
  for (const l of lines) console.log(l.map((cell, c) => cell.padStart(widths[c])).join('  '));
  console.log('RSS MB/s: (RSS at window end - at window start) / window; ratio rows show ours vs mjpeg-server. CPU %: of one core.');
  if (rounds > 1) console.log(`medians over ${rounds} rounds`);
}

if (process.argv[2] === '--server') serverMain(process.argv[3], process.argv[4]);
else main().catch((err) => {
  console.error(err);
  process.exit(1);
});

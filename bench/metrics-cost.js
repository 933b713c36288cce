'use strict';
// What health and metrics cost the frame pipeline at 10 cameras (10 FFmpeg, testsrc2 320x240 10 fps, one HTTP
// viewer each): without, and with the metrics node's endpoints (/metrics: prom-client text from stream snapshots and
// /proc; /health) scraped once a second and a stream-health report of all ten streams once a second (its figures,
// CPU % and latency over the interval). Once a second is 15 times Prometheus' default scrape rate.
//
// Method
// - The pipeline runs in a child process (fresh for every run): ProcessPool, 10 streams, 10 MjpegEndpoints fed by the
//   streams' frames (the ffmpeg-source → mjpeg-out wire). Its CPU (process.cpuUsage: every thread of the Node
//   process, not FFmpeg) over a 10 s window after a 4 s warm-up, divided by the frames its streams delivered in the
//   window: CPU per frame. FFmpeg's own CPU over the window is read from /proc for the whole-pipeline figure.
// - A/B: the same pipeline without and with that work, alternating which goes first, --rounds K times (default 3);
//   medians per mode, as a ratio. The difference is small against the noise of a shared VM, so the "with" child also
//   measures the CPU of every run of each kind directly (process.cpuUsage from its start to its answer: anything else
//   that ran meanwhile counts too, so it errs high). From those: the cost per frame at once a second, and at the
//   periods a deployment usually runs (Prometheus' 15 s default scrape, stream-health's 10 s default, Docker's 30 s
//   health check), against the pipeline's CPU per frame without metrics. The bar: under 2%.
// Run: npm run build && node bench/metrics-cost.js   [--rounds K] [--no-process-metrics]
//   (--no-process-metrics: /metrics without prom-client's Node.js process metrics, the metrics node's option;
//    BENCH_PROF=dir: a CPU profile of each "with" pipeline)
const { fork } = require('node:child_process');
const http = require('node:http');
const path = require('node:path');
const { median } = require('./lib/measure.js');

const CAMERAS = 10;
const WARMUP_MS = 4000;
const WINDOW_MS = 10000;
const SCRAPE_MS = 1000;
const dist = process.env.GLIMPSER_DIST || path.join(__dirname, '..', 'dist');

// ---------------------------------------------------------------------------------------------- pipeline side
async function serverMain(mode) {
  const { ProcessPool } = require(path.join(dist, 'core', 'stream', 'pool'));
  const { MjpegEndpoint } = require(path.join(dist, 'core', 'serve', 'mjpeg-endpoint'));
  const { StreamMetrics } = require(path.join(dist, 'core', 'health', 'metrics'));
  const { sampleStreams, sampleEach, streamFigures, healthReport, NO_USAGE } = require(path.join(dist, 'core', 'health', 'health'));
  const { readProcessesUsage } = require(path.join(dist, 'core', 'ffmpeg', 'process-usage'));
  const pool = new ProcessPool({ idleGraceMs: 10000 });
  const routes = new Map();
  let frames = 0;
  const endpoints = [];
  for (let i = 0; i < CAMERAS; i++) {
    const stream = pool.stream(`cam${i}`);
    // A distinct duration makes a distinct source signature: ten processes, not one shared.
    stream.define('source', { capture: { source: `testsrc2=size=320x240:rate=10:duration=${86400 + i}`, fps: 10, quality: 8 }, lowFps: 0 });
    stream.use('source', { run: true, jpeg: 'full' });
    const ep = new MjpegEndpoint({ name: `cam${i}`, consumerId: 'out', maxViewers: 10, stallTimeoutMs: 30000, stillTimeoutMs: 1000 });
    ep.setSource(stream);
    stream.on('frame', (f) => {
      frames++;
      if (f.jpeg) ep.frame(f.jpeg, f.seq, f.time);
    });
    endpoints.push(ep);
    routes.set(`/cam${i}.mjpg`, (req, res) => ep.serveStream(req, res));
  }
  // CPU of each kind of work from its start to its answer (prom-client's text is async: what else ran meanwhile
  // counts too, so these err high).
  const work = { metrics: { us: 0, n: 0 }, health: { us: 0, n: 0 }, report: { us: 0, n: 0 } };
  const timed = async (kind, fn) => {
    const c0 = process.cpuUsage();
    try {
      return await fn();
    } finally {
      const c = process.cpuUsage(c0);
      work[kind].us += c.user + c.system;
      work[kind].n++;
    }
  };
  let reportTimer;
  if (mode === 'with') {
    const metrics = new StreamMetrics();
    const pools = [{ label: 'default', pool }];
    routes.set('/metrics', (req, res) =>
      timed('metrics', async () => {
        const { contentType, body } = await metrics.exposition(sampleStreams(pools), process.env.BENCH_PROCESS_METRICS !== '0');
        res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      }),
    );
    routes.set('/health', (req, res) =>
      timed('health', async () => {
        const report = healthReport(sampleStreams(pools, NO_USAGE));
        const body = JSON.stringify(report.body);
        res.writeHead(report.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      }),
    );
    // What a stream-health node watching the pool does every interval.
    const previous = new Map();
    reportTimer = setInterval(
      () =>
        void timed('report', async () => {
          const streams = pool.streams();
          const samples = sampleEach(streams.map((stream) => ({ pool: 'default', stream })));
          samples.forEach((s, i) => {
            JSON.stringify(streamFigures(s, previous.get(streams[i])));
            previous.set(streams[i], s);
          });
        }),
      SCRAPE_MS,
    );
  }
  const server = http.createServer((req, res) => {
    const route = routes.get(req.url);
    if (route) route(req, res);
    else res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1', () => process.send({ type: 'port', port: server.address().port }));
  let start;
  const ffmpegCpu = () => readProcessesUsage(pool.captures().map((c) => c.stats().pid).filter(Boolean))?.cpuSeconds ?? NaN;
  process.on('message', async (m) => {
    if (m.type === 'start') {
      start = { cpu: process.cpuUsage(), frames, work: JSON.parse(JSON.stringify(work)), ffmpeg: ffmpegCpu(), restarts: pool.captures().reduce((n, c) => n + c.stats().restarts, 0) };
    } else if (m.type === 'stop') {
      const cpu = process.cpuUsage(start.cpu);
      const ffmpeg = ffmpegCpu();
      process.send({
        type: 'result',
        cpuUs: cpu.user + cpu.system,
        frames: frames - start.frames,
        work: Object.fromEntries(Object.entries(work).map(([k, w]) => [k, { us: w.us - start.work[k].us, n: w.n - start.work[k].n }])),
        ffmpegCpuUs: (ffmpeg - start.ffmpeg) * 1e6,
        restarts: pool.captures().reduce((n, c) => n + c.stats().restarts, 0) - start.restarts,
      });
    } else if (m.type === 'exit') {
      clearInterval(reportTimer);
      server.closeAllConnections();
      server.close();
      for (const ep of endpoints) ep.close('now');
      await pool.close();
      process.exit(0);
    }
  });
}

// ---------------------------------------------------------------------------------------------- client side
function get(port, urlPath) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      })
      .on('error', reject);
  });
}

async function runOne(mode) {
  const child = fork(__filename, ['--server', mode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: process.env.BENCH_PROF && mode === 'with' ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : [] });
  const message = (type) =>
    new Promise((resolve) => {
      const fn = (m) => {
        if (m.type === type) {
          child.off('message', fn);
          resolve(m);
        }
      };
      child.on('message', fn);
    });
  const { port } = await message('port');
  const viewers = await Promise.all(
    Array.from({ length: CAMERAS }, (_, i) =>
      new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: `/cam${i}.mjpg`, agent: false }, (res) => {
          res.resume();
          resolve(res);
        }).on('error', reject);
      }),
    ),
  );
  let scraper;
  let failures = 0;
  const pending = new Set();
  if (mode === 'with') {
    scraper = setInterval(() => {
      for (const p of ['/metrics', '/health']) {
        const done = get(port, p).then((s) => { if (s !== 200 && !(p === '/health' && s === 503)) { failures++; process.stderr.write(`${p}: ${s}\n`); } }, (e) => { failures++; process.stderr.write(`${p}: ${e.message}\n`); }).finally(() => pending.delete(done));
        pending.add(done);
      }
    }, SCRAPE_MS);
  }
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  child.send({ type: 'start' });
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  child.send({ type: 'stop' });
  const result = await message('result');
  clearInterval(scraper);
  await Promise.all([...pending]);
  for (const v of viewers) v.destroy();
  child.send({ type: 'exit' });
  await new Promise((r) => child.once('exit', r));
  if (failures) throw new Error(`${failures} scrapes failed`);
  return result;
}

/** The defaults a deployment runs with: Prometheus' scrape interval, stream-health's interval, Docker's health check. */
const DEFAULT_PERIODS_S = { metrics: 15, report: 10, health: 30 };

async function main() {
  const at = process.argv.indexOf('--rounds');
  const rounds = at > 0 ? Number(process.argv[at + 1]) : 3;
  // The pipeline children inherit the environment.
  if (process.argv.includes('--no-process-metrics')) process.env.BENCH_PROCESS_METRICS = '0';
  const results = { without: [], with: [] };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? ['without', 'with'] : ['with', 'without'];
    for (const mode of order) {
      const res = await runOne(mode);
      results[mode].push(res);
      const kinds = mode === 'with' ? Object.entries(res.work).map(([k, w]) => `${k} ${w.n}x ${(w.us / w.n / 1000).toFixed(2)} ms`).join(', ') : '';
      process.stdout.write(
        `  round ${r + 1} ${mode.padEnd(7)}: ${res.frames} frames, Node ${(res.cpuUs / res.frames).toFixed(1)} µs/frame, FFmpeg ${(res.ffmpegCpuUs / res.frames).toFixed(0)} µs/frame` +
          (kinds ? `; ${kinds}` : '') +
          (res.restarts ? `, ${res.restarts} FFmpeg restarts` : '') +
          '\n',
      );
    }
  }
  const perFrame = (mode, key) => median(results[mode].map((x) => x[key] / x.frames));
  const nodeWithout = perFrame('without', 'cpuUs');
  const nodeWith = perFrame('with', 'cpuUs');
  const ffmpeg = perFrame('without', 'ffmpegCpuUs');
  const fps = median(results.without.map((x) => x.frames)) / (WINDOW_MS / 1000);
  // CPU of one run of each kind of work (median over rounds), and what it costs per frame at a given period.
  const perRun = Object.fromEntries(['metrics', 'health', 'report'].map((k) => [k, median(results.with.map((x) => x.work[k].us / x.work[k].n))]));
  const perFrameAt = (periods) => Object.entries(perRun).reduce((sum, [k, us]) => sum + us / periods[k] / fps, 0);
  const worst = perFrameAt({ metrics: 1, report: 1, health: 1 });
  const usual = perFrameAt(DEFAULT_PERIODS_S);
  const pct = (us, of) => `${((100 * us) / of).toFixed(2)}%`;
  const processMetrics = process.env.BENCH_PROCESS_METRICS !== '0' ? 'with' : 'without';
  process.stdout.write(`metrics and health at ${CAMERAS} cameras (${fps.toFixed(0)} frames/s in all), /metrics ${processMetrics} process metrics, medians of ${rounds} rounds\n`);
  process.stdout.write(`  one run: /metrics ${(perRun.metrics / 1000).toFixed(2)} ms, /health ${(perRun.health / 1000).toFixed(2)} ms, stream-health report of all ${CAMERAS} ${(perRun.report / 1000).toFixed(2)} ms CPU\n`);
  process.stdout.write(`  A/B, all three every ${SCRAPE_MS / 1000} s: Node CPU per frame without ${nodeWithout.toFixed(1)} µs, with ${nodeWith.toFixed(1)} µs, ratio ${(nodeWith / nodeWithout).toFixed(3)} (noisy)\n`);
  process.stdout.write(`  direct, all three every 1 s: ${worst.toFixed(2)} µs/frame = ${pct(worst, nodeWithout)} of the Node pipeline's CPU, ${pct(worst, nodeWithout + ffmpeg)} with FFmpeg's (${ffmpeg.toFixed(0)} µs/frame)\n`);
  process.stdout.write(`  direct, at the usual periods (scrape ${DEFAULT_PERIODS_S.metrics} s, stream-health ${DEFAULT_PERIODS_S.report} s, health check ${DEFAULT_PERIODS_S.health} s): ${usual.toFixed(3)} µs/frame = ${pct(usual, nodeWithout)} of the Node pipeline's CPU, ${pct(usual, nodeWithout + ffmpeg)} with FFmpeg's\n`);
}

if (process.argv[2] === '--server') serverMain(process.argv[3]);
else {
  main().catch((err) => {
    process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  });
}

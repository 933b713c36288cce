'use strict';
// A soak with churn against a real node-red process (bench/lib/soak-run.js has the set-up): 20 steady viewers,
// a viewer joining every 2 s and leaving 4-12 s later, a full deploy every minute, the camera's FFmpeg SIGKILLed
// every 90 s, the MQTT broker restarted every 5 minutes, motion from a camera with known motion intervals.
// Printed: Node-RED's memory, descriptors and children at the start and the end with their slopes per hour (after a
// warm-up), where the anonymous memory lies (malloc arenas vs the rest), the steady viewers' delivered fps, and
// motion events lost (each known interval must give one ON and one OFF at the broker).
// Baselines in the same run: the figures at the start (steady viewers only, before any churn) against those at the
// end (churn stopped, the same steady viewers), and the motion intervals the camera made.
//
// Run: npm run build && node bench/soak.js [--minutes M] (default 2, what `npm run bench` runs) [--env K=V ...]
//      [--json FILE] (every sample) [--deploy S] [--kill S] [--broker S] (periods in seconds)
// The README's hour: node bench/soak.js --minutes 60 --json /tmp/soak-60.json
const fs = require('node:fs');
const { runSoak, slopes } = require('./lib/soak-run');
const { fx, table } = require('./lib/stats');

function args(argv) {
  const out = { minutes: 2, env: {}, json: undefined, periods: {} };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--minutes') out.minutes = Number(argv[++i]);
    else if (a === '--env') {
      const [k, ...v] = argv[++i].split('=');
      out.env[k] = v.join('=');
    } else if (a === '--json') out.json = argv[++i];
    else if (a === '--deploy') out.periods.deployEveryMs = Number(argv[++i]) * 1000;
    else if (a === '--kill') out.periods.killEveryMs = Number(argv[++i]) * 1000;
    else if (a === '--broker') out.periods.brokerEveryMs = Number(argv[++i]) * 1000;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!(out.minutes > 0)) throw new Error('--minutes must be positive');
  return out;
}

const MB = 1048576;

async function main() {
  const a = args(process.argv);
  const short = a.minutes < 10;
  // A short run still sees every kind of event at least once.
  const periods = short ? { deployEveryMs: 30_000, killEveryMs: 45_000, brokerEveryMs: 60_000, ...a.periods } : a.periods;
  const r = await runSoak({
    durationMs: a.minutes * 60_000,
    env: a.env,
    ...periods,
    log: (line) => process.stdout.write(`  ${line}\n`),
  });
  if (a.json) fs.writeFileSync(a.json, JSON.stringify(r, null, 1));
  const o = r.options;
  const warm = Math.min(10 * 60_000, r.durationMs * 0.25);
  const sl = slopes(r.samples, warm);
  const second = slopes(r.samples, r.durationMs / 2);
  process.stdout.write(`\nsoak ${fx(r.durationMs / 60000)} min, real node-red, 640x360 10 fps camera read by FFmpeg; env ${JSON.stringify(a.env)}\n`);
  process.stdout.write(`  ${o.steadyViewers} steady viewers, ${r.counts.churnJoined} joined and left (${r.counts.churnRefused} refused), ${r.counts.deploys} full deploys` +
    ` (${r.counts.deployErrors} failed), ${r.counts.kills} FFmpeg SIGKILLs, ${r.counts.brokerRestarts} broker restarts; periods: deploy ${o.deployEveryMs / 1000} s,` +
    ` kill ${o.killEveryMs / 1000} s, broker ${o.brokerEveryMs / 1000} s\n`);
  const s = r.start;
  const e = r.end;
  // Slopes need a long run: over two minutes a deploy's garbage or V8 giving back its start-up heap is the slope.
  const long = r.durationMs >= 20 * 60_000;
  // The first sample with the smaps breakdown after the warm-up: V8 has given back its start-up heap by then.
  const w = r.samples.find((x) => x.t >= warm && x.smaps) ?? s;
  const rows = [['', 'start (steady viewers)', `at ${fx(w.t / 60000)} min`, 'end (churn stopped)', 'min', 'max', ...(long ? [`slope /h after ${fx(warm / 60000, 0)} min`, 'slope /h 2nd half'] : [])]];
  const range = (get) => {
    const xs = r.samples.map(get).filter(Number.isFinite);
    return [Math.min(...xs), Math.max(...xs)];
  };
  const row = (name, get, scale, d, slopeKey) => {
    const [lo, hi] = range(get);
    rows.push([name, fx(get(s) / scale, d), fx(get(w) / scale, d), fx(get(e) / scale, d), fx(lo / scale, d), fx(hi / scale, d), ...(long ? [fx(sl[slopeKey] / scale, d), fx(second[slopeKey] / scale, d)] : [])]);
  };
  row('Node-RED RSS, MB', (x) => x.VmRSS, MB, 1, 'rss');
  row('  RssAnon, MB', (x) => x.RssAnon, MB, 1, 'rssAnon');
  row('  JS heap used, MB', (x) => x.nodejs_heap_size_used_bytes, MB, 1, 'heapUsed');
  row('  JS heap total, MB', (x) => x.nodejs_heap_size_total_bytes, MB, 1, 'heapTotal');
  row('  external (Buffers), MB', (x) => x.nodejs_external_memory_bytes, MB, 1, 'external');
  row('  [heap] main malloc arena, MB', (x) => x.smaps?.brkHeap, MB, 1, 'brkHeap');
  row('  other malloc arenas, MB', (x) => x.smaps?.arenas, MB, 1, 'arenas');
  row('  other anonymous, MB', (x) => x.smaps?.otherAnon, MB, 1, 'otherAnon');
  row('open descriptors', (x) => x.fds, 1, 0, 'fds');
  row('child processes', (x) => x.children, 1, 0, 'children');
  row('FFmpeg RSS, MB', (x) => x.ffmpegRss, MB, 1, 'ffmpegRss');
  process.stdout.write(`${table(rows)}\n`);
  if (!long) process.stdout.write('(slopes per hour need a run of 20 minutes or more: node bench/soak.js --minutes 60)\n');
  const fpsMin = r.samples.slice(1).map((x) => x.fpsMin);
  const fpsMed = r.samples.slice(1).map((x) => x.fpsMedian).sort((x, y) => x - y);
  const arenaCounts = r.samples.filter((x) => x.smaps).map((x) => x.smaps.arenaCount);
  process.stdout.write(`steady viewers' delivered fps per ${o.sampleEveryMs / 1000} s window: median ${fx(fpsMed[fpsMed.length >> 1], 2)}, lowest window ${fx(Math.min(...fpsMin), 2)};` +
    ` ${r.steadyClosed} of ${o.steadyViewers} steady viewers disconnected; malloc arenas ${Math.min(...arenaCounts)}-${Math.max(...arenaCounts)}; zombies at the end ${e.zombies}\n`);
  const m = r.motion;
  process.stdout.write(`motion: ${r.intervals.length} known intervals, ${m.judged} judged (ended ${o.quietSeconds + 5} s before the end): ${m.ok} with one ON and one OFF;` +
    ` lost ON ${m.lostOn.length}, lost or late OFF ${m.lostOff.length}, split ${m.split.length}, spurious events ${m.spurious.length}\n`);
  process.stdout.write(`descriptors by kind, start: ${JSON.stringify(r.fdKinds.start)}; end (${fx(r.settleMs / 1000)} s after the churn stopped): ${JSON.stringify(r.fdKinds.end)}\n`);
  process.stdout.write(`sharp (libvips) loaded in Node-RED: ${r.libvipsLoaded ? 'yes (placeholders were drawn)' : 'no'}; after Node-RED stopped: ${r.leftAlive.length} of its children still alive\n`);
  if (r.leftAlive.length || e.fds > s.fds + 3 || e.children > s.children) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exitCode = 1;
});

'use strict';
// A soak with churn against a real `node-red` process, shared by bench/soak.js (figures) and
// test/runtime/soak.test.js (leaks of descriptors and processes).
//
// The set-up: a camera of ours (MJPEG over HTTP, 640x360 at 10 fps, a still noisy scene with a box crossing it
// for `motionMs` in every `motionCycleMs`, scheduled by the wall clock, so each motion interval is known whatever
// restarts) read by FFmpeg (Read: FFmpeg, so there is an FFmpeg to kill) → ffmpeg-source → mjpeg-out (viewers) and
// motion-detect → Node-RED's own `mqtt out` → a broker (aedes in this process, restarted on the same port) → a
// subscriber here; glimpser-metrics for the JS heap (prom-client's process metrics) and the stream's figures.
// Churn: `steadyViewers` viewers all the time, one more viewer every `churnEveryMs` staying `churnLifeMs`, a full
// deploy of the unchanged flows every `deployEveryMs`, the FFmpeg SIGKILLed every `killEveryMs`, the broker
// restarted every `brokerEveryMs`. Sampled every `sampleEveryMs`: Node-RED's RSS (RssAnon, RssFile), where the
// anonymous memory lies (/proc/PID/smaps: malloc arenas, V8 and other mappings), the JS heap, open descriptors,
// child processes, FFmpeg's RSS and the steady viewers' delivered frames per second.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const mqtt = require('mqtt');
const { startTickCamera } = require('./tick-camera');
const mem = require('./proc-memory');
const { pct, slope } = require('./stats');
const { startNodeRed } = require('../../test/helpers/node-red-process');
const { startAedes } = require('../../test/helpers/broker');
const { openStream } = require('../../test/helpers/mjpeg-client');
const synth = require('../../test/helpers/synth');

const FPS = 10;
const STREAM = 'soak';
const TOPIC = `glimpser/${STREAM}/motion`;

const DEFAULTS = {
  durationMs: 120_000,
  steadyViewers: 20,
  churnEveryMs: 2000,
  churnLifeMs: [4000, 12000],
  deployEveryMs: 60_000,
  killEveryMs: 90_000,
  brokerEveryMs: 300_000,
  sampleEveryMs: 5000,
  /** smaps is long to read and parse: every n-th sample. */
  smapsEvery: 6,
  motionCycleMs: 30_000,
  motionMs: 4000,
  /** The first motion interval starts this long after the camera: the detector learns the empty scene first. */
  motionOffsetMs: 15_000,
  quietSeconds: 2,
  /** After the churn stops, how long descriptors and children may take to come back to where they started. */
  settleMs: 20_000,
  /** Environment for Node-RED (MALLOC_ARENA_MAX, SOAK_SHARP_CACHE...). */
  env: {},
  /** Extra settings.js entries (JavaScript source). */
  settings: '',
  /** Extra flow nodes (a test's fault injection). */
  extraNodes: [],
  log: () => {},
};

function flows(brokerPort, cameraUrl, o) {
  return [
    { id: 'tab', type: 'tab', label: 'soak' },
    { id: 'pool', type: 'glimpser-process-pool', idleGrace: 10 },
    { id: 'src', z: 'tab', type: 'glimpser-ffmpeg-source', name: STREAM, pool: 'pool', source: cameraUrl, mode: 'ffmpeg', fps: FPS, quality: 5, startMode: 'always', lowFps: 0.5, wires: [['out', 'md']] },
    { id: 'out', z: 'tab', type: 'glimpser-mjpeg-out', name: STREAM, path: `/glimpser/${STREAM}.mjpg`, stillPath: `/glimpser/${STREAM}.jpg`, maxViewers: 200, maxPerAddress: 200, stallTimeout: 5, wires: [] },
    { id: 'md', z: 'tab', type: 'glimpser-motion-detect', quietSeconds: o.quietSeconds, startFrames: 3, discoveryDelay: 0.5, topicPrefix: 'glimpser', wires: [['mo']] },
    { id: 'mo', z: 'tab', type: 'mqtt out', broker: 'b1', topic: '', qos: '1', retain: '', wires: [] },
    { id: 'b1', type: 'mqtt-broker', broker: '127.0.0.1', port: String(brokerPort), clientid: '', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '15', cleansession: true },
    { id: 'metrics', z: 'tab', type: 'glimpser-metrics', name: '', path: '/glimpser/metrics', healthPath: '/glimpser/health', processMetrics: true, wires: [] },
    ...o.extraNodes,
  ];
}

function getText(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** The first sample of each named series in Prometheus text. */
function promValues(text, names) {
  const out = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && names.includes(m[1]) && !(m[1] in out)) out[m[1]] = Number(m[3]);
  }
  return out;
}

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/** The camera's frames: a still noisy scene (looped) and a box crossing it, 640x360. */
async function sceneFrames(motionFrames) {
  const post = 'scale=640:360';
  const still = await synth.jpegFrames({ post }, 20);
  const moving = await synth.jpegFrames({ post, box: { n0: 0, n1: motionFrames - 1, x0: 10, speed: Math.max(1, Math.floor(260 / motionFrames)), y: 90, size: 50 } }, motionFrames);
  return { still: still.map((b) => Buffer.from(b)), moving: moving.map((b) => Buffer.from(b)) };
}

/**
 * Known motion intervals against what the broker delivered: each interval must give exactly one ON (while it
 * lasts or just after) and one OFF (after it ended, within the quiet period and a margin).
 */
function matchMotion(intervals, messages, quietMs, endMs) {
  const transitions = [];
  let state;
  for (const m of messages) {
    if (m.payload !== 'ON' && m.payload !== 'OFF') continue;
    if (m.payload !== state) transitions.push({ payload: m.payload, at: m.at });
    state = m.payload;
  }
  const events = [];
  for (const t of transitions) {
    if (t.payload === 'ON') events.push({ on: t.at, off: undefined });
    else if (events.length && events.at(-1).off === undefined) events.at(-1).off = t.at;
  }
  const used = new Set();
  let ok = 0;
  const lostOn = [];
  const lostOff = [];
  const split = [];
  for (const iv of intervals) {
    // Intervals still open, or whose OFF may not have come yet when the run ended, are not judged.
    if (iv.end === undefined || iv.end + quietMs + 5000 > endMs) continue;
    const mine = events.filter((e, i) => !used.has(i) && e.on >= iv.start - 500 && e.on <= iv.end + 2000);
    mine.forEach((e) => used.add(events.indexOf(e)));
    if (mine.length === 0) lostOn.push(iv);
    else if (mine.length > 1) split.push({ ...iv, events: mine.length });
    else if (mine[0].off === undefined || mine[0].off < iv.end || mine[0].off > iv.end + quietMs + 5000) lostOff.push({ ...iv, off: mine[0].off });
    else ok++;
  }
  const judged = ok + lostOn.length + lostOff.length + split.length;
  const spurious = events.filter((e, i) => !used.has(i) && e.on < endMs - quietMs - 5000 && !intervals.some((iv) => e.on >= iv.start - 500 && (iv.end === undefined || e.on <= iv.end + 2000)));
  return { judged, ok, lostOn, lostOff, split, spurious, events };
}

async function runSoak(options = {}) {
  const o = { ...DEFAULTS, ...options };
  const log = o.log;
  const motionFrames = Math.round((o.motionMs / 1000) * FPS);
  const frames = await sceneFrames(motionFrames);

  // The camera: motion by the wall clock, so an interval is known whatever FFmpeg or Node-RED did meanwhile.
  const intervals = [];
  let camStart;
  let inMotion = false;
  let sent = 0;
  const cam = await startTickCamera({
    fps: FPS,
    frameFor: (i) => {
      const t = Date.now();
      camStart ??= t;
      const phase = (t - camStart - o.motionOffsetMs) % o.motionCycleMs;
      const k = t - camStart >= o.motionOffsetMs ? Math.floor((phase / 1000) * FPS) : -1;
      if (k >= 0 && k < motionFrames) {
        if (!inMotion) intervals.push({ start: t, end: undefined });
        inMotion = true;
        return frames.moving[k];
      }
      if (inMotion) intervals.at(-1).end = t;
      inMotion = false;
      return frames.still[i % frames.still.length];
    },
    onTick: () => {
      sent++;
    },
  });

  let broker = await startAedes();
  const brokerPort = broker.port;
  const messages = [];
  const sub = await mqtt.connectAsync(broker.url, { reconnectPeriod: 250, connectTimeout: 2000 });
  sub.on('message', (topic, payload, packet) => messages.push({ topic, payload: String(payload), retain: packet.retain, at: Date.now() }));
  sub.on('error', () => {});
  await sub.subscribeAsync(TOPIC, { qos: 1 });

  const flowJson = flows(brokerPort, cam.url, o);
  const nr = await startNodeRed(flowJson, { env: o.env, settings: o.settings });
  const pid = nr.child.pid;
  const base = `http://127.0.0.1:${nr.port}`;
  const counts = { deploys: 0, deployErrors: 0, kills: 0, brokerRestarts: 0, churnJoined: 0, churnRefused: 0, viewerDrops: 0 };
  const samples = [];
  const timers = [];
  const steady = [];
  const churn = new Set();
  let stopping = false;
  const startedAt = Date.now();

  const openViewer = async () => {
    const v = await openStream(`${base}/glimpser/${STREAM}.mjpg`, { keep: 'head', headBytes: 4 });
    v.real = 0;
    v.placeholders = 0;
    v.parser.on('part', () => {
      if (v.parser.partHeaders['x-glimpser-placeholder']) v.placeholders++;
      else v.real++;
    });
    v.res.on('close', () => {
      v.closed = true;
    });
    return v;
  };

  const result = { options: { ...o, log: undefined, env: o.env, extraNodes: undefined }, counts, samples, intervals };
  try {
    // The stream is up once a viewer sees real frames (Node-RED says it runs before the flows have started: 404
    // until then).
    const end0 = Date.now() + 30000;
    let probe;
    while (!probe) {
      probe = await openViewer().catch((err) => {
        if (Date.now() > end0) throw err;
      });
      if (!probe) await delay(250);
    }
    while (probe.real < 5 && Date.now() < end0) await delay(100);
    probe.close();
    if (probe.real < 5) throw new Error(`no frames from the stream within 30 s:\n${nr.output().slice(-3000)}`);
    for (let i = 0; i < o.steadyViewers; i++) steady.push(await openViewer());

    let lastCounts = steady.map((v) => v.real);
    let lastSampleAt = performance.now();
    const sample = async (label) => {
      const now = performance.now();
      const seconds = (now - lastSampleAt) / 1000;
      const fps = steady.map((v, i) => (v.real - lastCounts[i]) / seconds);
      lastCounts = steady.map((v) => v.real);
      lastSampleAt = now;
      const s = { t: Date.now() - startedAt, label, viewers: steady.filter((v) => !v.closed).length + churn.size, fpsMin: Math.min(...fps), fpsMedian: pct(fps, 50) };
      try {
        Object.assign(s, mem.status(pid));
        s.fds = mem.fdCount(pid);
        const kids = mem.children(pid);
        s.children = kids.filter((k) => !k.zombie).length;
        s.zombies = kids.filter((k) => k.zombie).length;
        s.ffmpegRss = kids.filter((k) => !k.zombie).reduce((sum, k) => {
          try {
            return sum + (mem.status(k.pid).VmRSS ?? 0);
          } catch {
            return sum;
          }
        }, 0);
        if (label || samples.length % o.smapsEvery === 0) s.smaps = mem.smapsBreakdown(pid);
      } catch (err) {
        s.error = err.message;
      }
      try {
        const m = await getText(`${base}/glimpser/metrics`);
        Object.assign(s, promValues(m.text, ['nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_external_memory_bytes', 'glimpser_camera_fps', 'glimpser_camera_restarts_total', 'glimpser_camera_viewers']));
      } catch (err) {
        s.metricsError = err.message;
      }
      samples.push(s);
      return s;
    };
    await delay(2000);
    const idle = await sample('start');
    result.start = idle;
    result.fdKinds = { start: mem.fdKinds(pid), end: undefined };
    log(`soak: ${o.steadyViewers} steady viewers; Node-RED pid ${pid}; RSS ${(idle.VmRSS / 1048576).toFixed(1)} MB, ${idle.fds} fds, ${idle.children} children`);

    const every = (ms, fn) => {
      if (!(ms > 0) || !Number.isFinite(ms)) return;
      const t = setInterval(() => {
        if (!stopping) fn().catch((err) => log(`soak: ${err.message}`));
      }, ms);
      timers.push(t);
    };
    every(o.churnEveryMs, async () => {
      let v;
      try {
        v = await openViewer();
      } catch {
        counts.churnRefused++;
        return;
      }
      counts.churnJoined++;
      churn.add(v);
      const life = o.churnLifeMs[0] + Math.random() * (o.churnLifeMs[1] - o.churnLifeMs[0]);
      setTimeout(() => {
        v.close();
        churn.delete(v);
      }, life);
    });
    every(o.deployEveryMs, async () => {
      const res = await nr.deploy(flowJson);
      counts.deploys++;
      if (res.status !== 200 && res.status !== 204) {
        counts.deployErrors++;
        log(`soak: deploy answered ${res.status} ${res.body.slice(0, 200)}`);
      }
    });
    every(o.killEveryMs, async () => {
      const ffmpegs = mem.children(pid).filter((k) => !k.zombie && /ffmpeg/.test(k.comm));
      for (const k of ffmpegs) {
        try {
          process.kill(k.pid, 'SIGKILL');
          counts.kills++;
        } catch {
          // exited meanwhile
        }
      }
    });
    every(o.brokerEveryMs, async () => {
      await broker.close();
      counts.brokerRestarts++;
      await delay(1000);
      broker = await startAedes(brokerPort);
    });
    every(o.sampleEveryMs, async () => {
      const s = await sample();
      if (samples.length % 12 === 0) {
        log(`soak ${(s.t / 60000).toFixed(1)} min: RSS ${(s.VmRSS / 1048576).toFixed(1)} MB (anon ${(s.RssAnon / 1048576).toFixed(1)}), heap ${(s.nodejs_heap_size_used_bytes / 1048576).toFixed(1)} MB, ` +
          `${s.fds} fds, ${s.children} children, fps min ${s.fpsMin.toFixed(1)}, ${counts.deploys} deploys, ${counts.kills} kills, ${counts.brokerRestarts} broker restarts`);
      }
    });

    await delay(Math.max(0, o.durationMs - (Date.now() - startedAt)));

    // Churn stops; the steady viewers stay: descriptors and children must come back to where they started.
    stopping = true;
    for (const t of timers) clearInterval(t);
    for (const v of churn) v.close();
    churn.clear();
    // Sockets of the viewers that left close as the server sees them go; a process restarted by the last kill
    // may still be starting. Up to settleMs for both to be back where they started.
    const settleFrom = Date.now();
    await delay(1000);
    const back = () => {
      try {
        return mem.fdCount(pid) <= result.start.fds && mem.children(pid).filter((k) => !k.zombie).length === result.start.children;
      } catch {
        return false;
      }
    };
    while (!back() && Date.now() - settleFrom < o.settleMs) await delay(500);
    result.settleMs = Date.now() - settleFrom;
    result.fdKinds.end = mem.fdKinds(pid);
    const settled = await sample('end');
    result.end = settled;
    // Whether sharp (libvips, librsvg: placeholders) was loaded at all: its first renders cost native memory.
    result.libvipsLoaded = require('node:fs').readFileSync(`/proc/${pid}/maps`, 'utf8').includes('libvips');
    result.steadyClosed = steady.filter((v) => v.closed).length;
    result.motion = matchMotion(intervals, messages.filter((m) => m.topic === TOPIC), o.quietSeconds * 1000, Date.now());
    result.sent = sent;
    result.durationMs = Date.now() - startedAt;
  } finally {
    stopping = true;
    for (const t of timers) clearInterval(t);
    for (const v of [...steady, ...churn]) v.close();
    const kids = mem.children(pid).map((k) => k.pid);
    if (nr.child.exitCode === null) {
      nr.child.kill('SIGTERM');
      await nr.exited;
    }
    // Every FFmpeg Node-RED had must be gone once it has exited.
    const until = Date.now() + 10000;
    const alive = (p) => {
      try {
        process.kill(p, 0);
        return !fs.readFileSync(`/proc/${p}/stat`, 'utf8').includes(') Z ');
      } catch {
        return false;
      }
    };
    while (kids.some(alive) && Date.now() < until) await delay(100);
    result.leftAlive = kids.filter(alive);
    for (const p of result.leftAlive) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
    result.nodeRedOutput = nr.output().slice(-4000);
    nr.cleanup();
    await sub.endAsync(true).catch(() => {});
    await broker.close().catch(() => {});
    await cam.close();
  }
  return result;
}

/** Per-hour slopes of the samples after `fromMs` (a warm-up left out), by least squares. */
function slopes(samples, fromMs) {
  const use = samples.filter((s) => s.t >= fromMs && s.VmRSS !== undefined);
  const per = (get) => slope(use.filter((s) => Number.isFinite(get(s))).map((s) => [s.t / 3_600_000, get(s)]));
  const sm = use.filter((s) => s.smaps);
  const perSm = (get) => slope(sm.map((s) => [s.t / 3_600_000, get(s.smaps)]));
  return {
    samples: use.length,
    rss: per((s) => s.VmRSS),
    rssAnon: per((s) => s.RssAnon),
    heapUsed: per((s) => s.nodejs_heap_size_used_bytes),
    heapTotal: per((s) => s.nodejs_heap_size_total_bytes),
    external: per((s) => s.nodejs_external_memory_bytes),
    fds: per((s) => s.fds),
    children: per((s) => s.children),
    ffmpegRss: per((s) => s.ffmpegRss),
    brkHeap: perSm((x) => x.brkHeap),
    arenas: perSm((x) => x.arenas),
    otherAnon: perSm((x) => x.otherAnon),
  };
}

module.exports = { runSoak, slopes, matchMotion, DEFAULTS };

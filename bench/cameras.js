'use strict';
// Frames delivered / frames sent for real third-party MJPEG cameras (issue 18): the `motion` daemon, FFmpeg's own
// `-listen 1` server (one client at a time, as an ESP32-CAM), VLC declaring multipart/x-mixed-replace and VLC with its
// default application/octet-stream, all at 10 fps from generated clips (test/helpers/camera-rig.js).
//
// Method
// - Ours: a real `node-red` process (test/helpers/node-red-process.js, our package linked in) with, per camera and
//   read mode (auto, FFmpeg, pass-through), a glimpser-ffmpeg-source (fps 10, start always) wired to a
//   glimpser-mjpeg-out, and a real HTTP viewer on each stream URL.
// - Baseline, in the same run: FFmpeg with the arguments the plugin built before issue 18 for an http camera URL that
//   does not look like MJPEG (buildArgs, kind 'http', as of commit 89d500a), spawned directly on each camera, its
//   stdout (-f mpjpeg) split into frames.
// - A plain HTTP client on each camera: the yardstick (what any client gets).
// - Every reader has its own camera endpoint: FFmpeg's server takes one client, so each reader has a server of its
//   own; motion and VLC are one camera each, read through a relay per reader that records what the camera wrote on
//   that reader's connections. Sent: what a reference client straight on the camera received in the window (motion,
//   VLC; or what the camera wrote to the reader, if more), the clip's rate times the window for FFmpeg's server.
// - After SETTLE_MS for the sources to start and WARMUP_MS for the viewers to be switched to full rate, a WINDOW_MS
//   window; delivered counts real frames (not placeholders). Repeats: consecutive identical JPEGs (a re-encoding
//   reader doubling a picture). Byte for byte (pass-through, the yardstick): JPEGs not from the camera, camera frames
//   skipped.
// - The cameras, relays, viewers and baseline FFmpegs run in a child process (test/helpers/camera-recorder.js) that
//   takes every arrival time, away from the processes under load.
// Run: npm run build && node bench/cameras.js   [--window S] (default 20)
const path = require('node:path');

const { CAMERAS } = require('../test/helpers/camera-rig.js');
const { startRecorder } = require('../test/helpers/camera-recorder.js');
const { startNodeRed } = require('../test/helpers/node-red-process.js');

const FPS = 10;
const QUALITY = 5;
const SETTLE_MS = 3000;
const WARMUP_MS = 5000;
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const WINDOW_MS = arg('window', 20) * 1000;
const MODES = ['auto', 'ffmpeg', 'passthrough'];
const BASELINE = 'baseline';
const CLIENT = 'client';
const dist = path.join(__dirname, '..', 'dist');

/** The argument list buildArgs gave for { kind: 'http', fps, quality } before issue 18 (no arrival-time timestamps). */
function baselineArgs(url, boundary) {
  return ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
    '-reconnect', '1', '-reconnect_streamed', '1', '-reconnect_on_network_error', '1', '-reconnect_delay_max', '5', '-rw_timeout', '10000000',
    '-analyzeduration', '1000000', '-i', url,
    '-map', '0:v:0', '-vf', `fps=${FPS}`, '-an', '-sn', '-dn',
    '-fps_mode', 'passthrough', '-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p', '-q:v', String(QUALITY), '-thread_type', 'slice',
    '-f', 'mpjpeg', '-boundary_tag', boundary, 'pipe:1'];
}

function flowFor(endpoints) {
  const flow = [{ id: 'pool', type: 'glimpser-process-pool', name: 'cameras' }];
  for (const { id, reader, url } of endpoints) {
    if (!MODES.includes(reader)) continue;
    flow.push(
      { id: `src-${id}`, type: 'glimpser-ffmpeg-source', name: id, pool: 'pool', source: url, mode: reader, fps: FPS, quality: QUALITY, startMode: 'always', wires: [[`out-${id}`]] },
      { id: `out-${id}`, type: 'glimpser-mjpeg-out', name: id, path: `/cams/${id}.mjpg`, stillPath: `/cams/${id}.jpg`, wires: [] },
    );
  }
  return flow;
}

const pad = (s, n) => String(s).padEnd(n);
const fig = (r) => `${r.delivered}/${r.sent} = ${r.ratio.toFixed(2)}`;
function exactness(r, reader) {
  if (!r.delivered) return '—';
  // Auto that read with FFmpeg re-encodes too: none of its JPEGs is the camera's.
  if (reader === 'ffmpeg' || reader === BASELINE || r.unknown === r.delivered) return `re-encoded, repeats ${r.repeats}`;
  return r.unknown || r.skipped || r.repeats > r.cameraRepeats
    ? `${r.unknown} not sent, ${r.skipped} skipped, repeats ${r.repeats}`
    : 'byte for byte';
}

async function main() {
  const { FFMPEG_BOUNDARY } = require(path.join(dist, 'core', 'jpeg', 'multipart-splitter.js'));
  console.log(`baseline: ffmpeg ${baselineArgs('URL', FFMPEG_BOUNDARY).join(' ')}`);
  // For the record only: whether today's buildArgs still builds the baseline for such a URL.
  try {
    const { buildArgs } = require(path.join(dist, 'core', 'ffmpeg', 'args.js'));
    const probe = 'http://127.0.0.1:1/cam';
    const now = buildArgs({ source: probe, kind: 'http', fps: FPS, quality: QUALITY });
    const same = JSON.stringify(now) === JSON.stringify(baselineArgs(probe, FFMPEG_BOUNDARY));
    console.log(`(buildArgs for kind 'http' ${same ? 'still builds exactly this' : `now builds: ${now.join(' ').replace(probe, 'URL')}`})`);
  } catch (err) {
    console.log(`(buildArgs not compared: ${err.message})`);
  }

  const readers = [CLIENT, ...MODES, BASELINE];
  // Cameras, relays, viewers and the baseline FFmpegs live in a child process that takes every arrival time.
  const rec = await startRecorder(readers, { fps: FPS });
  let nr;
  try {
    nr = await startNodeRed(flowFor(rec.endpoints));
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    await rec.view(rec.endpoints.map(({ id, reader, url }) => {
      if (reader === BASELINE) return { id, command: ['ffmpeg', ...baselineArgs(url, FFMPEG_BOUNDARY)], boundary: FFMPEG_BOUNDARY };
      return { id, url: reader === CLIENT ? url : `http://127.0.0.1:${nr.port}/cams/${id}.mjpg` };
    }));
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const results = await rec.window(WINDOW_MS);

    console.log(`\nframes delivered / sent over ${WINDOW_MS / 1000} s, cameras at ${FPS} fps (ours: a node-red process, read mode → mjpeg-out → HTTP viewer)`);
    console.log(`${pad('camera', 16)}${pad('reader', 26)}${pad('delivered/sent', 20)}${pad('exact', 36)}vs baseline`);
    const names = { [CLIENT]: 'plain client (yardstick)', auto: 'ours, auto', ffmpeg: 'ours, FFmpeg', passthrough: 'ours, pass-through', [BASELINE]: "FFmpeg, today's args" };
    for (const camera of CAMERAS) {
      const of = (reader) => results[`${camera.id}-${reader}`];
      const base = of(BASELINE).ratio;
      for (const reader of readers) {
        const r = of(reader);
        const vs = MODES.includes(reader) ? (base ? `${(r.ratio / base).toFixed(2)}x` : '— (baseline 0)') : '';
        console.log(`${pad(camera.id, 16)}${pad(names[reader], 26)}${pad(fig(r), 20)}${pad(exactness(r, reader), 36)}${vs}${r.viewerError ? `  [${r.viewerError}]` : ''}`);
      }
    }
  } finally {
    if (nr) {
      nr.child.kill('SIGTERM');
      await nr.exited;
      nr.cleanup();
    }
    const left = await rec.stop();
    if (left.length) throw new Error(`camera processes left: ${left.join(', ')}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

'use strict';
// Real MJPEG cameras made by software nobody here wrote (Debian packages), for tests and benches: the `motion` daemon,
// FFmpeg's own HTTP server (`-listen 1`, one client at a time, as an ESP32-CAM) and VLC. Each serves a clip generated
// here with known content, on its own free loopback port, and runs in a process group of its own so that stop()
// ends everything it started (VLC runs under runuser when we are root). FFmpeg's server copies the clip's JPEGs
// (`-c:v copy`), so each JPEG it sends is a clip frame found by its bytes, and its `-progress` report (every 100 ms)
// says how many it wrote; what motion and VLC sent is recorded by clients (mjpeg-record.js, camera-rig.js).
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const { runFfmpeg } = require('./synth');
const { splitJpegs } = require('./ffmpeg-frames');
const { recordParts, digest } = require('./mjpeg-record');
const { delay } = require('./procs');
const { freePort } = require('./http-server');

/** The boundary VLC's mpjpeg muxer writes (modules/mux/mpjpeg.c); a multipart mime given to VLC must name it. */
const VLC_BOUNDARY = '7b3cc56e5f51db803f790dad720ed50a';
const SIZE = '320x240';
const STOP_GRACE_MS = 3000;

const now = () => performance.now();

// ------------------------------------------------------------------------------------------------ processes

/** Process groups we started and have not seen end: killed on exit, so a crashed test run leaves no camera behind. */
const liveGroups = new Set();
process.on('exit', () => {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Live (not zombie) pids whose process group is `pgid`. */
function groupMembers(pgid) {
  const out = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (f[0] !== 'Z' && Number(f[2]) === pgid) out.push(Number(entry));
    } catch {
      // gone while we looked
    }
  }
  return out;
}

/** Spawns `cmd` as the leader of a new process group, its output appended to `logFile`. */
function spawnGroup(cmd, args, { logFile, stdout = 'log' } = {}) {
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', stdout === 'pipe' ? 'pipe' : fd, fd] });
  fs.closeSync(fd);
  liveGroups.add(child.pid);
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  // A pgid cannot be reused while a member lives: forget the group only once it is empty.
  child.once('exit', () => {
    if (!groupMembers(child.pid).length) liveGroups.delete(child.pid);
  });
  child.on('error', () => {});
  return child;
}

/**
 * SIGTERM, SIGKILL to the whole group after STOP_GRACE_MS; resolves once no member is alive. A leader with children
 * (runuser) has them stopped first, so that it reaps them as it exits and leaves no zombie to init.
 */
async function stopGroup(child) {
  const pgid = child.pid;
  const signal = (sig) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // the group is empty
    }
  };
  const others = groupMembers(pgid).filter((pid) => pid !== pgid);
  if (others.length && child.exitCode === null && child.signalCode === null) {
    for (const pid of others) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone already
      }
    }
    await Promise.race([child.exited, delay(STOP_GRACE_MS)]);
  }
  signal('SIGTERM');
  const end = Date.now() + STOP_GRACE_MS;
  while (groupMembers(pgid).length && Date.now() < end) await delay(25);
  if (groupMembers(pgid).length) signal('SIGKILL');
  while (groupMembers(pgid).length) await delay(25);
  if (child.exitCode === null && child.signalCode === null) await child.exited;
  liveGroups.delete(pgid);
}


/** Whether something listens on `port` (from /proc/net/tcp*): a readiness check that is no client of the camera. */
function listening(port) {
  const suffix = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let lines = [];
    try {
      lines = fs.readFileSync(file, 'utf8').trim().split('\n').slice(1);
    } catch {
      continue;
    }
    // sl local_address rem_address st …; state 0A is LISTEN
    if (lines.some((l) => {
      const f = l.trim().split(/\s+/);
      return f[1].endsWith(suffix) && f[3] === '0A';
    })) return true;
  }
  return false;
}

/** Until a client gets a JPEG from `url` (for cameras that take several clients: the probe is one of them). */
async function waitServing(url, child, name, logFile, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const probe = recordParts(url);
    const t = Date.now();
    while (!probe.frames.length && probe.closedAt === undefined && Date.now() - t < 2000) await delay(50);
    probe.close();
    if (probe.frames.length) return;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}):\n${tail(logFile)}`);
    if (Date.now() > end) throw new Error(`${name} sends no picture on ${url} after ${timeoutMs} ms (${probe.error ?? 'nothing'}):\n${tail(logFile)}`);
    await delay(200);
  }
}

function tail(file, lines = 15) {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function waitListening(port, child, name, logFile, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  while (!listening(port)) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before listening on ${port}:\n${tail(logFile)}`);
    }
    if (Date.now() > end) throw new Error(`${name} does not listen on ${port} after ${timeoutMs} ms:\n${tail(logFile)}`);
    await delay(50);
  }
}

// ------------------------------------------------------------------------------------------------ clips

/**
 * An MJPEG AVI of FFmpeg's `testsrc` (a frame counter on it: every frame a distinct picture) at `fps` for `seconds`,
 * readable by other users (VLC runs as nobody). Returns { file, fps, digests (of the JPEGs in the file, in order),
 * index: Map digest → frame number }.
 */
async function makeClip(dir, { fps = 10, seconds = 60, size = SIZE, quality = 5, name = `clip-${fps}fps` } = {}) {
  fs.chmodSync(dir, 0o755);
  const file = path.join(dir, `${name}.avi`);
  await runFfmpeg(['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc=size=${size}:rate=${fps}`,
    '-frames:v', String(Math.round(fps * seconds)), '-pix_fmt', 'yuvj420p', '-q:v', String(quality), '-c:v', 'mjpeg', file]);
  fs.chmodSync(file, 0o644);
  // The JPEGs as the file holds them: what `-c:v copy` sends.
  const frames = splitJpegs(await runFfmpeg(['-hide_banner', '-nostdin', '-loglevel', 'error', '-i', file, '-c:v', 'copy', '-f', 'mjpeg', 'pipe:1']));
  const digests = frames.map(digest);
  const index = new Map();
  digests.forEach((d, i) => {
    if (!index.has(d)) index.set(d, i);
  });
  if (index.size !== frames.length) throw new Error(`clip ${file}: ${frames.length} frames but ${index.size} distinct`);
  return { file, fps, digests, index };
}

// ------------------------------------------------------------------------------------------------ cameras

/**
 * The `motion` daemon (foreground), reading the clip as a netcam (`file://`) at its rate and serving its stream
 * (multipart/x-mixed-replace, at `/`) on a loopback port; no pictures, movies or web control. Several clients.
 */
async function startMotion(clip, dir) {
  const port = await freePort();
  const work = fs.mkdtempSync(path.join(dir, 'motion-'));
  const conf = path.join(work, 'motion.conf');
  const log = path.join(work, 'motion.log');
  const [width, height] = SIZE.split('x');
  fs.writeFileSync(conf, [
    'daemon off',
    'setup_mode off',
    `log_file ${log}`,
    'log_level 6',
    `target_dir ${work}`,
    `netcam_url file://${clip.file}`,
    `width ${width}`,
    `height ${height}`,
    `framerate ${clip.fps}`,
    // Never an event: detection would only cost CPU here (more changed pixels than the picture has).
    'threshold 2000000',
    'emulate_motion off',
    'picture_output off',
    'movie_output off',
    'snapshot_interval 0',
    'text_left',
    'text_right',
    'webcontrol_port 0',
    `stream_port ${port}`,
    'stream_localhost on',
    `stream_maxrate ${clip.fps}`,
    'stream_quality 50',
    'stream_motion off',
    '',
  ].join('\n'));
  const child = spawnGroup('motion', ['-n', '-c', conf], { logFile: log });
  const url = `http://127.0.0.1:${port}/`;
  try {
    await waitListening(port, child, 'motion', log);
    // motion listens before its first picture and hangs up on clients until it has one.
    await waitServing(url, child, 'motion', log);
  } catch (err) {
    await stopGroup(child);
    throw err;
  }
  return camera({
    name: 'motion', url, clients: 'many', contentType: 'multipart', fps: clip.fps, log,
    groups: () => [child], stop: () => stopGroup(child),
  });
}

/**
 * VLC (`cvlc`) transcoding the clip to MJPEG at `fps` and serving it over HTTP (mpjpeg mux) at `/cam.mjpg`. VLC refuses
 * to run as root: as root it runs as `nobody` through runuser. `mime: 'multipart'` declares multipart/x-mixed-replace
 * with VLC's boundary; `mime: 'default'` leaves VLC's own application/octet-stream. VLC sends the frames of a 25 fps
 * clip in uneven pairs (about 40/160 ms apart), and drops its clients when the clip loops. Several clients.
 */
async function startVlc(clip, dir, { fps = 10, mime = 'multipart' } = {}) {
  const port = await freePort();
  const work = fs.mkdtempSync(path.join(dir, 'vlc-'));
  const log = path.join(work, 'vlc.log');
  const access = mime === 'multipart' ? `http{mime="multipart/x-mixed-replace;boundary=${VLC_BOUNDARY}"}` : 'http';
  const vlcArgs = ['-q', '--no-audio', clip.file, '--loop', '--sout-avcodec-strict=-1',
    '--sout', `#transcode{vcodec=MJPG,fps=${fps}}:standard{access=${access},mux=mpjpeg,dst=127.0.0.1:${port}/cam.mjpg}`];
  const asRoot = process.getuid && process.getuid() === 0;
  const child = asRoot ? spawnGroup('runuser', ['-u', 'nobody', '--', 'cvlc', ...vlcArgs], { logFile: log }) : spawnGroup('cvlc', vlcArgs, { logFile: log });
  const url = `http://127.0.0.1:${port}/cam.mjpg`;
  try {
    await waitListening(port, child, 'vlc', log);
    // VLC listens even when it cannot read its input (a clip in a folder that nobody may enter).
    await waitServing(url, child, 'vlc', log);
  } catch (err) {
    await stopGroup(child);
    throw err;
  }
  return camera({
    name: mime === 'multipart' ? 'vlc' : 'vlc-octet', url, clients: 'many',
    contentType: mime === 'multipart' ? 'multipart' : 'octet-stream', fps, log, groups: () => [child], stop: () => stopGroup(child),
  });
}

/**
 * FFmpeg's own HTTP server as a single-client camera (an ESP32-CAM): `ffmpeg -re -i clip -c:v copy -f mpjpeg
 * -listen 1 http://127.0.0.1:PORT/cam` serves one client and exits; it is started again when it does, so the next
 * client is accepted once the previous one left (a connection meanwhile is refused). Every session starts at the
 * clip's first frame. `Content-Type: application/octet-stream` unless `contentType` is given.
 */
async function startFfmpegServer(clip, dir, { contentType } = {}) {
  const port = await freePort();
  const work = fs.mkdtempSync(path.join(dir, 'ffmpeg-listen-'));
  const log = path.join(work, 'ffmpeg.log');
  const url = `http://127.0.0.1:${port}/cam`;
  const sessions = [];
  let current;
  let stopping = false;
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', clip.file, '-c:v', 'copy',
    ...(contentType ? ['-content_type', contentType] : []), '-f', 'mpjpeg', '-progress', 'pipe:1', '-stats_period', '0.1', '-listen', '1', url];
  const launch = () => {
    const child = spawnGroup('ffmpeg', args, { logFile: log, stdout: 'pipe' });
    const session = { started: now(), samples: [], child };
    sessions.push(session);
    current = child;
    let pending = '';
    child.stdout.on('data', (chunk) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines) {
        const m = /^frame=(\d+)/.exec(line);
        if (m) session.samples.push({ t: now(), frames: Number(m[1]) });
      }
    });
    child.once('exit', () => {
      session.ended = now();
      if (!stopping) launch();
    });
    return child;
  };
  const first = launch();
  await waitListening(port, first, 'ffmpeg -listen 1', log).catch(async (err) => {
    stopping = true;
    await stopGroup(current);
    throw err;
  });
  const cam = camera({
    name: 'ffmpeg-listen', url, clients: 'one', contentType: contentType ? 'given' : 'octet-stream', fps: clip.fps, log,
    groups: () => [current], stop: async () => {
      stopping = true;
      // A group that ended between sessions is already gone; the current one is stopped and not started again.
      for (const s of sessions) if (groupMembers(s.child.pid).length) await stopGroup(s.child);
    },
  });
  /** Sessions so far (one per client accepted, plus the one waiting now). */
  cam.sessions = sessions;
  /** Clients accepted so far (a session that wrote progress, or ended, had one). */
  cam.accepted = () => sessions.filter((s) => s.ended !== undefined || s.samples.length > 0).length;
  /** Frames the server wrote between two moments (performance.now()), from its progress reports, over every session. */
  cam.sentBetween = (t0, t1) => sessions.reduce((sum, s) => sum + framesAt(s, t1) - framesAt(s, t0), 0);
  return cam;
}

/** Frames a session had written at `t`: its last progress report at or before `t`. */
function framesAt(session, t) {
  let n = 0;
  for (const s of session.samples) {
    if (s.t > t) break;
    n = s.frames;
  }
  return n;
}

function camera(c) {
  return {
    ...c,
    /** Live pids of this camera's processes (empty after stop()). */
    processes: () => c.groups().flatMap((child) => groupMembers(child.pid)),
    logTail: () => tail(c.log),
  };
}

module.exports = { makeClip, startMotion, startVlc, startFfmpegServer, freePort, groupMembers, VLC_BOUNDARY };

'use strict';
// The third-party camera rig (camera-rig.js) and every recording client, run in a child process of their own: the
// arrival times that decide which frames fall in the window are taken away from the process that runs Node-RED and
// our pass-through (in a loaded test process, event-loop stalls moved frames across the window's edges: a plain client
// on motion counted 197 of its connection's 201). The parent builds its flow on the endpoints the child gives, asks
// it to record viewers, opens the window and gets the judged figures back (mjpeg-record.js judge()).
//
// Parent: const rec = await startRecorder(readers, { fps }); rec.endpoints; await rec.view([{ id, url }]) or
// [{ id, command: [cmd, ...args], boundary }] (a process whose stdout is multipart, such as FFmpeg -f mpjpeg);
// const results = await rec.window(ms); const left = await rec.stop() (pids left behind: none, or a bug).
// If the parent goes away, the child stops every camera and exits.
const { fork, spawn } = require('node:child_process');
const { performance } = require('node:perf_hooks');

const CHILD_FLAG = '--camera-recorder';

// ------------------------------------------------------------------------------------------------ parent

function startRecorder(readers, opts = {}) {
  const child = fork(__filename, [CHILD_FLAG], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let seq = 0;
  const pending = new Map();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.on('message', (m) => {
    const p = pending.get(m.seq);
    if (!p) return;
    pending.delete(m.seq);
    if (m.error) p.reject(Object.assign(new Error(m.error), { stack: m.stack }));
    else p.resolve(m.value);
  });
  child.once('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`camera recorder exited (${code ?? signal})`));
    pending.clear();
  });
  const call = (cmd, args) => new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) return reject(new Error('camera recorder is gone'));
    const id = ++seq;
    pending.set(id, { resolve, reject });
    child.send({ seq: id, cmd, args });
  });
  return call('start', { readers, opts }).then(
    (endpoints) => ({
      endpoints,
      view: (views) => call('view', views),
      window: (ms) => call('window', ms),
      async stop() {
        const left = await call('stop').catch((err) => [`recorder: ${err.message}`]);
        child.disconnect();
        await exited;
        return left;
      },
    }),
    async (err) => {
      if (child.connected) child.disconnect();
      await exited;
      throw err;
    },
  );
}

// ------------------------------------------------------------------------------------------------ child

function child() {
  const { startRig } = require('./camera-rig');
  const { recordParts, judge, digest, BodyParts } = require('./mjpeg-record');
  let rig;
  const views = new Map();
  let stopped;

  /** A command's stdout as a multipart stream, recorded as a viewer is. */
  function recordCommand([cmd, ...args], boundary) {
    const rec = { frames: [], error: undefined, stopping: false };
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const parts = new BodyParts(`multipart/x-mixed-replace; boundary=${boundary}`, (body) => {
      rec.frames.push({ t: performance.now(), digest: digest(body), placeholder: false });
    });
    proc.stdout.on('data', (c) => {
      try {
        parts.push(c);
      } catch (err) {
        rec.error = err.message;
      }
    });
    let stderr = '';
    proc.stderr.on('data', (c) => (stderr = (stderr + c).slice(-2000)));
    proc.on('error', (err) => (rec.error = err.message));
    const closed = new Promise((r) => proc.once('close', r));
    proc.once('close', (code) => {
      if (!rec.stopping) rec.error = `${cmd} exited ${code}: ${stderr.trim().split('\n').pop()}`;
    });
    rec.close = async () => {
      rec.stopping = true;
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await closed;
    };
    return rec;
  }

  const commands = {
    async start({ readers, opts }) {
      rig = await startRig(readers, opts);
      return rig.endpoints.map(({ id, camera, reader, url }) => ({ id, camera, reader, url }));
    },
    view(list) {
      for (const v of list) views.set(v.id, v.command ? recordCommand(v.command, v.boundary) : recordParts(v.url));
    },
    async window(ms) {
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, ms));
      const t1 = performance.now();
      rig.check(t1);
      const results = {};
      for (const { id, truth, accepted } of rig.endpoints) {
        const v = views.get(id);
        if (v) results[id] = { ...judge(v, truth(), t0, t1), viewerError: v.error, accepted: accepted?.() };
      }
      return results;
    },
    stop() {
      stopped ??= (async () => {
        await Promise.all([...views.values()].map((v) => v.close()));
        return rig ? rig.stop() : [];
      })();
      return stopped;
    },
  };

  process.on('message', async ({ seq, cmd, args }) => {
    try {
      process.send({ seq, value: await commands[cmd](args) });
    } catch (err) {
      process.send({ seq, error: err.message, stack: err.stack });
    }
  });
  // The parent gone (or done): stop every camera, then leave.
  process.on('disconnect', () => {
    commands.stop().finally(() => process.exit(0));
  });
}

if (process.argv[2] === CHILD_FLAG && process.send) child();

module.exports = { startRecorder };

'use strict';
// The third-party cameras of test/runtime/third-party-cameras.test.js and bench/cameras.js, set up for several
// readers at once: every reader (a read mode of ours, a plain client, a baseline FFmpeg) gets a camera endpoint of
// its own and the ground truth to judge what it delivered by (test/helpers/mjpeg-record.js judge()).
// - motion and VLC (two: declaring multipart/x-mixed-replace, and with VLC's default application/octet-stream) take
//   several clients: one camera each, a reference client straight on it (what it offers a client), and per reader a
//   relay that records what the camera wrote on that reader's own connections;
// - FFmpeg's `-listen 1` server takes one client: a server per reader, judged by the clip it copies.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const cams = require('./third-party-cameras');
const { recordParts, tapCamera } = require('./mjpeg-record');

const CAMERAS = [
  { id: 'motion', what: 'motion 4.5 daemon (multipart, several clients)' },
  { id: 'ffmpeg-listen', what: "FFmpeg's -listen 1 server (octet-stream, one client)" },
  { id: 'vlc', what: 'VLC 3.0 (multipart, frames in uneven pairs)' },
  { id: 'vlc-octet', what: 'VLC 3.0 with its default application/octet-stream' },
];

/**
 * Starts every camera for `readers` (names, e.g. ['auto', 'ffmpeg', 'passthrough']) at `fps`, from clips of
 * `clipSeconds` (VLC drops its clients when its clip loops: make it outlast the run). Returns { endpoints, check(t1),
 * stop() }: endpoints [{ id: `${camera}-${reader}`, camera (a CAMERAS entry), reader, url, truth() (judge's camera
 * argument), accepted() (single-client cameras: connections accepted) }]; check(t1) throws if a reference client did
 * not read up to t1; stop() ends every process and resolves with the pids left (none, or a bug).
 */
async function startRig(readers, { fps = 10, clipSeconds = 75 } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glimpser-cameras-'));
  const started = [];
  const references = [];
  const taps = [];
  const rig = {
    endpoints: [],
    check(t1) {
      for (const { name, ref, cam } of references) {
        if (ref.error || ref.closedAt < t1) throw new Error(`the reference client of ${name} did not read the whole window (${ref.error ?? 'closed'}): ${cam.logTail()}`);
      }
    },
    async stop() {
      for (const { ref } of references) ref.close();
      await Promise.all(taps.map((tap) => tap.close()));
      await Promise.all(started.map((cam) => cam.stop()));
      fs.rmSync(dir, { recursive: true, force: true });
      return started.flatMap((cam) => cam.processes().map((pid) => `${cam.name} ${pid}`));
    },
  };
  try {
    const [clip, clip25] = await Promise.all([
      cams.makeClip(dir, { fps, seconds: clipSeconds }),
      // VLC sends a 25 fps clip transcoded to 10 fps in uneven pairs (about 40/160 ms apart), as issue 18 found it.
      cams.makeClip(dir, { fps: 25, seconds: clipSeconds }),
    ]);
    const start = async (p) => {
      const cam = await p;
      started.push(cam);
      return cam;
    };
    // Settled, not all: every camera that did start is in `started` before a failure is thrown.
    const settled = await Promise.allSettled([
      start(cams.startMotion(clip, dir)),
      start(cams.startVlc(clip25, dir, { fps, mime: 'multipart' })),
      start(cams.startVlc(clip25, dir, { fps, mime: 'default' })),
      ...readers.map(() => start(cams.startFfmpegServer(clip, dir))),
    ]);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    const [motion, vlc, vlcOctet, ...listen] = settled.map((s) => s.value);
    const shared = { motion, vlc, 'vlc-octet': vlcOctet };
    for (const [name, cam] of Object.entries(shared)) references.push({ name, cam, ref: recordParts(cam.url) });
    for (const camera of CAMERAS) {
      for (const [i, reader] of readers.entries()) {
        const id = `${camera.id}-${reader}`;
        if (camera.id === 'ffmpeg-listen') {
          // No relay: it would turn the server's refusals into accepted connections closed at once.
          const cam = listen[i];
          rig.endpoints.push({ id, camera, reader, url: cam.url, cam, truth: () => ({ clip, sentBetween: cam.sentBetween }), accepted: cam.accepted });
        } else {
          const cam = shared[camera.id];
          const { ref } = references.find((r) => r.name === camera.id);
          const u = new URL(cam.url);
          const tap = await tapCamera(Number(u.port), u.pathname);
          taps.push(tap);
          rig.endpoints.push({ id, camera, reader, url: tap.url, cam, truth: () => ({ frames: ref.frames, connections: tap.connections }) });
        }
      }
    }
  } catch (err) {
    await rig.stop();
    throw err;
  }
  return rig;
}

module.exports = { startRig, CAMERAS };

'use strict';
// A real `node-red` process serving one camera the way a user wires it: ffmpeg-source (Read: FFmpeg) → mjpeg-out,
// with the viewer page at /glimpser/ (the page and the stream at `base`).
const { startNodeRed } = require('../../test/helpers/node-red-process');

async function startNodeRedCamera(camUrl, { name = 'cam', fps = 10, quality = 5, mode = 'ffmpeg' } = {}) {
  const flows = [
    { id: 'tab', type: 'tab', label: 'bench' },
    { id: 'pool', type: 'glimpser-process-pool', idleGrace: 10 },
    { id: 'src', z: 'tab', type: 'glimpser-ffmpeg-source', name, pool: 'pool', source: camUrl, mode, fps, quality, startMode: 'always', lowFps: 0, wires: [['out']] },
    { id: 'out', z: 'tab', type: 'glimpser-mjpeg-out', name, path: `/glimpser/${name}.mjpg`, stillPath: `/glimpser/${name}.jpg`, maxViewers: 2000, maxPerAddress: 2000, wires: [] },
  ];
  const nr = await startNodeRed(flows);
  const base = `http://127.0.0.1:${nr.port}`;
  return {
    base,
    stream: `${base}/glimpser/${name}.mjpg`,
    still: `${base}/glimpser/${name}.jpg`,
    pid: nr.child.pid,
    close: async () => {
      if (nr.child.exitCode === null) {
        nr.child.kill('SIGTERM');
        await nr.exited;
      }
      nr.cleanup();
    },
  };
}

module.exports = { startNodeRedCamera };

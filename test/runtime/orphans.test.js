'use strict';
const assert = require('node:assert/strict');
const { startNodeRed } = require('../helpers/node-red-process');
const { childrenOf, isAlive, waitFor } = require('../helpers/procs');

function cameraFlow(tag) {
  return [
    { id: 'tab', type: 'tab', label: 'cams' },
    { id: 'pool', type: 'glimpser-process-pool', idleGrace: 30 },
    { id: 'a', z: 'tab', type: 'glimpser-ffmpeg-source', name: `a${tag}`, pool: 'pool', source: 'testsrc2=size=320x240:rate=10', fps: 10, quality: 6, startMode: 'always', wires: [[]] },
    { id: 'b', z: 'tab', type: 'glimpser-ffmpeg-source', name: `b${tag}`, pool: 'pool', source: `testsrc=size=320x240:rate=${5 + tag}`, fps: 5, quality: 6, startMode: 'always', wires: [[]] },
  ];
}

describe('no FFmpeg is ever orphaned (a real node-red process)', function () {
  this.timeout(90000);
  let nr;
  afterEach(async function () {
    if (nr && nr.child.exitCode === null && nr.child.signalCode === null) {
      nr.child.kill('SIGKILL');
      await nr.exited;
    }
    nr?.cleanup();
  });

  it('redeploys every second without leaking, and a stop leaves no process', async function () {
    nr = await startNodeRed(cameraFlow(0));
    const pid = nr.child.pid;
    await waitFor(() => childrenOf(pid).length === 2, 15000);
    const seen = new Set(childrenOf(pid));
    assert.equal(seen.size, 2, nr.output());
    for (let i = 1; i <= 5; i++) {
      const res = await nr.deploy(cameraFlow(i));
      assert.ok(res.status === 200 || res.status === 204, `deploy answered ${res.status}: ${res.body}`);
      childrenOf(pid).forEach((p) => seen.add(p));
      await new Promise((r) => setTimeout(r, 1000));
    }
    await waitFor(() => childrenOf(pid).length === 2, 10000);
    const running = childrenOf(pid);
    assert.equal(running.length, 2, 'exactly one process per camera after the redeploys');
    for (const p of seen) if (!running.includes(p)) assert.equal(isAlive(p), false, `old FFmpeg ${p} survived a redeploy`);
    nr.child.kill('SIGTERM');
    await nr.exited;
    for (const p of seen) assert.equal(isAlive(p), false, `FFmpeg ${p} survived the stop of Node-RED`);
  });

  it('FFmpeg exits by itself within seconds when Node-RED is killed with SIGKILL', async function () {
    nr = await startNodeRed(cameraFlow(0));
    await waitFor(() => childrenOf(nr.child.pid).length === 2, 15000);
    const pids = childrenOf(nr.child.pid);
    assert.equal(pids.length, 2);
    nr.child.kill('SIGKILL');
    await nr.exited;
    const t0 = Date.now();
    await waitFor(() => pids.every((p) => !isAlive(p)), 10000);
    for (const p of pids) assert.equal(isAlive(p), false, `FFmpeg ${p} outlived a SIGKILLed Node-RED`);
    assert.ok(Date.now() - t0 < 10000);
  });
});

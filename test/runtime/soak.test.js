'use strict';
// A few minutes of bench/soak.js's churn against a real node-red process (bench/lib/soak-run.js): 20 steady
// viewers, a viewer joining every second and leaving seconds later, a full deploy every 20 s, the camera's FFmpeg
// SIGKILLed every 30 s, the MQTT broker restarted every minute, motion from a camera with known motion. It fails on
// what must never happen whatever the machine's speed: descriptors or child processes that do not come back to where
// they were before the churn (with the same steady viewers), zombies, a process left behind when Node-RED stops, a
// deploy refused, a steady viewer dropped. Frame rates and motion events are printed, not asserted (timing).
//
// GLIMPSER_SOAK_INJECT=fd or =process adds a function node that leaks a descriptor, or a child process, at every
// deploy, to see this test fail (run by hand: the check must catch a leak of one per deploy).
const assert = require('node:assert/strict');
const { runSoak } = require('../../bench/lib/soak-run');

function injected(kind) {
  if (!kind) return { extraNodes: [], settings: '' };
  const code = kind === 'fd' ? "global.get('fs').openSync('/dev/null', 'r');" : "global.get('cp').spawn('sleep', ['600'], { stdio: 'ignore' });";
  return {
    settings: "functionGlobalContext: { fs: require('fs'), cp: require('child_process') },",
    extraNodes: [{ id: 'leak', z: 'tab', type: 'function', name: 'leaks at start', x: 100, y: 100, func: 'return msg;', outputs: 1, initialize: code, finalize: '', libs: [], wires: [] }],
  };
}

describe('soak: churn against a real node-red leaves no descriptor or process behind', function () {
  this.timeout(6 * 60_000);

  it('after 2 minutes of churn: descriptors and children back where they started, nothing left after a stop', async function () {
    const minutes = Number(process.env.GLIMPSER_SOAK_MINUTES || 2);
    const r = await runSoak({
      durationMs: minutes * 60_000,
      churnEveryMs: 1000,
      churnLifeMs: [2000, 8000],
      deployEveryMs: 20_000,
      killEveryMs: 30_000,
      brokerEveryMs: 60_000,
      ...injected(process.env.GLIMPSER_SOAK_INJECT),
    });
    const { start, end, counts, motion } = r;
    console.log(`      (${counts.churnJoined} viewers joined and left, ${counts.deploys} deploys, ${counts.kills} kills, ${counts.brokerRestarts} broker restarts;` +
      ` fds ${start.fds} → ${end.fds} (back after ${(r.settleMs / 1000).toFixed(1)} s), children ${start.children} → ${end.children};` +
      ` motion intervals ${motion.judged}: ${motion.ok} ON+OFF, lost ON ${motion.lostOn.length}, lost OFF ${motion.lostOff.length}, split ${motion.split.length})`);
    assert.ok(counts.deploys >= 3 && counts.kills >= 2 && counts.brokerRestarts >= 1 && counts.churnJoined >= 60, `every kind of churn happened: ${JSON.stringify(counts)}`);
    assert.equal(counts.deployErrors, 0, 'every deploy accepted');
    assert.equal(r.steadyClosed, 0, 'no steady viewer was dropped');
    assert.ok(end.fds <= start.fds, `descriptors back to ${start.fds} with the same viewers: ${end.fds}; start ${JSON.stringify(r.fdKinds.start)}, end ${JSON.stringify(r.fdKinds.end)}`);
    assert.equal(end.children, start.children, 'the same number of child processes (one FFmpeg)');
    assert.equal(end.zombies, 0, 'no zombie');
    assert.deepEqual(r.leftAlive, [], 'no child outlives Node-RED');
  });
});

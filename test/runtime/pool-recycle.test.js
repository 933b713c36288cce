'use strict';
// The glimpser pool's Recycle fields in a real Node-RED runtime: the camera's FFmpeg is replaced by a fresh one after
// its time, logged in the user's words, counted in the metrics' figures, and the camera never leaves healthy.
// A value outside the range is refused by name. The editor accepts the same values (test/browser/editor.test.js).
const assert = require('node:assert/strict');
const { testHelper, useRuntime } = require('../helpers/node-red');
const helper = testHelper();
const { withCatalogs } = require('../helpers/i18n');
const { until } = require('../helpers/procs');

const [poolNode, sourceNode] = withCatalogs([require('../../nodes/process-pool.js'), require('../../nodes/ffmpeg-source.js')]);

const flow = (pool) => [
  { id: 'pool', type: 'glimpser-process-pool', idleGrace: 0, ...pool },
  { id: 'src', type: 'glimpser-ffmpeg-source', name: 'front', pool: 'pool', source: 'testsrc2=size=160x120:rate=5', fps: 5, quality: 8, startMode: 'always', wires: [[]] },
];

describe('glimpser pool: recycling FFmpeg (real Node-RED runtime, real FFmpeg)', function () {
  this.timeout(30000);
  useRuntime(helper);

  it('replaces the camera\'s FFmpeg after its hours of frames, without a gap, and logs why', async function () {
    // 0.0006 h: about 2 s.
    await helper.load([poolNode, sourceNode], flow({ recycleHours: '0.0006' }));
    const pool = helper.getNode('pool');
    const logs = [];
    pool.on('call:log', (c) => logs.push(String(c.args[0])));
    const stream = pool.pool.stream('front');
    const states = [];
    stream.on('state', (c) => states.push(c.state));
    await until(() => stream.state === 'healthy', 'healthy', 15000);
    const [first] = stream.snapshot().pids;
    await until(() => logs.some((l) => /replaced without a gap/.test(l)), 'the recycle logged', 15000);
    assert.match(logs.find((l) => /replaced without a gap/.test(l)), /^FFmpeg for testsrc:testsrc2=size=160x120:rate=5 replaced without a gap \(ran \d+ s\)$/);
    assert.notEqual(stream.snapshot().pids[0], first);
    assert.ok(stream.snapshot().recycles >= 1);
    assert.equal(stream.snapshot().restarts, 0);
    assert.deepEqual(states.filter((s) => s !== 'healthy'), [], 'never left healthy');
  });

  it('0 hours and 0 MB recycle nothing; a value outside the range is refused by name', async function () {
    await helper.load([poolNode, sourceNode], flow({ recycleHours: '0', recycleMb: '0' }));
    assert.equal(helper.getNode('pool').pool.recycleTimerArmed, false);
    await helper.unload();
    await helper.load([poolNode, sourceNode], flow({ recycleMb: '-5' }));
    const pool = helper.getNode('pool');
    await until(() => pool.error.called, 'an error', 5000);
    assert.match(String(pool.error.firstCall.args[0]), /Recycle above \(MB\) must be a whole number from 0 to 65536, got "-5"/);
  });
});

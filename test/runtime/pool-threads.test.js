'use strict';
// The glimpser pool's Decoding field (decoderThreads) in a real Node-RED runtime: the FFmpeg of its cameras decodes
// with that many threads, 0 leaves it to FFmpeg, and a value outside 0 to 64 is refused with the field and its range.
// The editor accepts exactly the same values (test/browser/editor.test.js, from src/nodes/field-rules.ts).
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { testHelper, useRuntime } = require('../helpers/node-red');
const helper = testHelper();
const { withCatalogs } = require('../helpers/i18n');
const { until } = require('../helpers/procs');

const [poolNode, sourceNode] = withCatalogs([require('../../nodes/process-pool.js'), require('../../nodes/ffmpeg-source.js')]);

const flow = (threads) => [
  { id: 'pool', type: 'glimpser-process-pool', idleGrace: 0, decoderThreads: threads },
  { id: 'src', type: 'glimpser-ffmpeg-source', name: 'front', pool: 'pool', source: 'testsrc2=size=160x120:rate=5', fps: 5, quality: 8, startMode: 'always', wires: [[]] },
];

/** The arguments of the camera's running FFmpeg, as the kernel has them. */
async function ffmpegArgs() {
  const stream = helper.getNode('pool').pool.stream('front');
  await until(() => stream.snapshot().pids.length > 0, 'an FFmpeg', 15000);
  const [pid] = stream.snapshot().pids;
  return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
}
function threadsOf(args) {
  const i = args.indexOf('-threads');
  return i < 0 ? undefined : args[i + 1];
}

describe('glimpser pool: decoder threads (real Node-RED runtime, real FFmpeg)', function () {
  this.timeout(30000);
  useRuntime(helper);

  it('decodes with the threads set (default 1), and 0 leaves the choice to FFmpeg', async function () {
    if (process.platform !== 'linux') this.skip();
    await helper.load([poolNode, sourceNode], flow(3));
    assert.equal(threadsOf(await ffmpegArgs()), '3');
    await helper.unload();
    await helper.load([poolNode, sourceNode], flow(''));
    assert.equal(threadsOf(await ffmpegArgs()), '1', 'empty: the default, one thread');
    await helper.unload();
    await helper.load([poolNode, sourceNode], flow('0'));
    assert.equal(threadsOf(await ffmpegArgs()), undefined, '0: no -threads, FFmpeg chooses');
  });

  it('refuses 65 by name and range, and its cameras start nothing', async function () {
    await helper.load([poolNode, sourceNode], flow('65'));
    const pool = helper.getNode('pool');
    const logged = pool.error.getCalls().filter((c) => c.thisValue === pool).map((c) => String(c.args[0]));
    assert.deepEqual(logged, ['Decoder threads must be a whole number from 0 to 64, got "65"']);
    assert.equal(pool.pool.stream('front').definition, undefined, 'the camera defines nothing on a refused pool');
  });
});

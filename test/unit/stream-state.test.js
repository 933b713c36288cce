'use strict';
// A stream's state when it has no working source: refused settings and a missing source are faults its users see,
// not an idle stream. No process is started for any of this.
const assert = require('node:assert/strict');
const { ProcessPool } = require('../../dist/core/stream/pool');

describe('Stream state without a working source', function () {
  let pool;
  afterEach(async function () {
    await pool?.close();
  });

  it('a source whose settings were refused makes the stream failed with its reason, until it leaves', function () {
    pool = new ProcessPool({ idleGraceMs: 0 });
    const stream = pool.stream('front');
    const changes = [];
    stream.on('state', (c) => changes.push(c));
    stream.refuse('src', 'Frame rate must be a number above 0 and at most 120, got 0');
    assert.equal(stream.state, 'failed');
    assert.equal(stream.stateInfo.reason, 'Frame rate must be a number above 0 and at most 120, got 0');
    assert.equal(stream.lastError, stream.stateInfo.reason);
    assert.equal(changes.length, 1);
    assert.equal(stream.unused, false);
    stream.undefine('src', 'now');
    assert.equal(stream.state, 'idle');
    assert.equal(stream.unused, true);
  });

  it('a consumer naming a stream no source defines: idle while the deploy runs, failed once it has finished', function () {
    pool = new ProcessPool({ idleGraceMs: 0 });
    const stream = pool.stream('nowhere');
    stream.use('viewer', { run: true, jpeg: 'full' });
    assert.equal(stream.state, 'idle', 'mid-deploy the source may still come');
    pool.settle();
    assert.equal(stream.state, 'failed');
    assert.equal(stream.stateInfo.reason, 'no source node defines this stream');
    assert.deepEqual(stream.snapshot().pids, [], 'nothing was started');
  });

  it('a source that defines the stream after a refused one takes over: no longer failed', function () {
    pool = new ProcessPool({ idleGraceMs: 0 });
    const stream = pool.stream('front');
    stream.refuse('old', 'bad settings');
    stream.undefine('old', 'handover');
    stream.define('new', { capture: { source: 'testsrc2=size=160x120:rate=10', fps: 10, quality: 5 }, lowFps: 0.5 });
    assert.equal(stream.state, 'idle');
    assert.equal(stream.stateInfo.reason, undefined);
  });
});

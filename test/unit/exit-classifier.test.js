'use strict';
// How an FFmpeg exit reads to the user: FFmpeg's own last line reaches the status, health and log, whatever the code.
const assert = require('node:assert/strict');
const { classifyExit } = require('../../dist/core/ffmpeg/exit-classifier.js');

const exit = (o) => classifyExit({ code: null, signal: null, stopRequested: false, stderrTail: [], ...o });

describe('exit classifier', function () {
  it('exit 0 after an input error says FFmpeg\'s reason, not only "source ended"', function () {
    const v = exit({ code: 0, stderrTail: ['http://cam/x: Invalid data found when processing input'] });
    assert.deepEqual(v, { kind: 'transient', reason: 'source ended: http://cam/x: Invalid data found when processing input' });
    assert.deepEqual(exit({ code: 0 }), { kind: 'transient', reason: 'source ended' });
  });

  it('a non-zero exit and a signal carry the last meaningful line; "Conversion failed!" is skipped', function () {
    assert.equal(exit({ code: 1, stderrTail: ['Connection timed out', 'Conversion failed!'] }).reason, 'FFmpeg exited (1): Connection timed out');
    assert.equal(exit({ signal: 'SIGKILL', stderrTail: ['stalled: no frame for 5.0 s'] }).reason, 'FFmpeg killed by SIGKILL: stalled: no frame for 5.0 s');
  });

  it('errors a retry cannot fix are permanent; a stop we asked for is clean', function () {
    assert.equal(exit({ code: 1, stderrTail: ['Server returned 401 Unauthorized (authorization failed)'] }).kind, 'permanent');
    assert.equal(exit({ code: 1, stderrTail: ['Server returned 404 Not Found'] }).kind, 'permanent');
    assert.equal(exit({ code: 255, stopRequested: true }).kind, 'clean');
  });
});

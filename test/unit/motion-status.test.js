'use strict';
// A motion-detect's status from what it knows: its settings, its camera's state, the last frame, the live result.
const assert = require('node:assert/strict');
const { motionStatus } = require('../../dist/nodes/motion-status.js');
const { translator } = require('../helpers/i18n');

const LIVE = { active: false, learning: false, score: 0.0123, msPerFrame: 0.05 };

describe('motion-detect status', function () {
  let _;
  before(async function () {
    _ = await translator();
  });

  it('live: green dot with no motion, blue with motion', function () {
    assert.deepEqual(motionStatus(LIVE, _), { fill: 'green', shape: 'dot', text: 'no motion 1.2% 0.05 ms/frame' });
    assert.deepEqual(motionStatus({ ...LIVE, active: true }, _), { fill: 'blue', shape: 'dot', text: 'motion 1.2% 0.05 ms/frame' });
  });

  it('before the first frame: a grey ring that says so, not "no motion"', function () {
    assert.deepEqual(motionStatus({ ...LIVE, waiting: true }, _), { fill: 'grey', shape: 'ring', text: 'waiting for frames' });
    assert.deepEqual(motionStatus({ ...LIVE, waiting: true, warning: 'bad regions' }, _), { fill: 'red', shape: 'ring', text: 'bad regions · waiting for frames' });
  });

  it('a failed camera: red ring with its reason; recovering: yellow ring', function () {
    assert.deepEqual(motionStatus({ ...LIVE, camera: { state: 'failed', reason: 'fps must be a number from 0.1 to 60' } }, _), {
      fill: 'red',
      shape: 'ring',
      text: 'camera failed: fps must be a number from 0.1 to 60',
    });
    assert.deepEqual(motionStatus({ ...LIVE, camera: { state: 'recovering', reason: 'Connection refused (retry 2 in 2.0 s)' } }, _), {
      fill: 'yellow',
      shape: 'ring',
      text: 'camera recovering: Connection refused (retry 2 in 2.0 s)',
    });
    assert.equal(motionStatus({ ...LIVE, camera: { state: 'failed', reason: undefined } }, _).text, 'camera failed');
  });

  it('an idle or healthy camera is not a fault', function () {
    for (const state of ['idle', 'starting', 'healthy', 'degraded']) {
      assert.equal(motionStatus({ ...LIVE, camera: { state, reason: 'x' } }, _).fill, 'green', state);
    }
  });

  it('refused settings come first; a bad region stays beside the live state; long texts are cut', function () {
    assert.deepEqual(motionStatus({ ...LIVE, refused: 'Start after (frames) must be a whole number', camera: { state: 'failed', reason: 'x' } }, _), {
      fill: 'red',
      shape: 'ring',
      text: 'Start after (frames) must be a whole number',
    });
    assert.deepEqual(motionStatus({ ...LIVE, active: true, warning: 'bad regions' }, _), { fill: 'red', shape: 'ring', text: 'bad regions · motion 1.2% 0.05 ms/frame' });
    assert.deepEqual(motionStatus({ ...LIVE, noFrames: true, warning: 'bad regions' }, _), { fill: 'yellow', shape: 'ring', text: 'bad regions · no frames' });
    const long = motionStatus({ ...LIVE, frameError: 'x'.repeat(200) }, _);
    assert.equal(long.text.length, 80);
  });
});

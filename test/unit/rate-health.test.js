'use strict';
// The frame-rate window and the healthy/degraded rule shared by FFmpeg's supervisor and pass-through cameras, ticked
// by the test instead of a timer.
const assert = require('node:assert/strict');
const { RateHealth, healthChange } = require('../../dist/core/capture/rate-health.js');

/** `seconds` ticks with `perSecond` frames counted in each; the last verdict. */
function run(rate, perSecond, seconds) {
  let verdict;
  for (let s = 0; s < seconds; s++) {
    for (let i = 0; i < perSecond; i++) rate.count();
    verdict = rate.tick() ?? verdict;
  }
  return verdict;
}

describe('RateHealth', function () {
  it('averages the last 5 ticks and judges once a health interval has passed with the window full', function () {
    const r = new RateHealth(10, 3000);
    assert.equal(run(r, 10, 4), undefined, 'window not yet full');
    assert.deepEqual(run(r, 10, 1), { state: 'healthy' });
    assert.equal(r.fps, 10);
  });

  it('below 70% of the expected rate is degraded, with both rates; back above is healthy', function () {
    const r = new RateHealth(10, 1000);
    assert.deepEqual(run(r, 6, 5), { state: 'degraded', reason: '6.0 fps, expected 10' });
    assert.deepEqual(run(r, 7, 5), { state: 'healthy' });
  });

  it('an expected rate of 0 is never degraded; reset() forgets the window', function () {
    const r = new RateHealth(0, 1000, 2);
    assert.deepEqual(run(r, 0, 2), { state: 'healthy' });
    r.reset();
    assert.equal(r.fps, 0);
    assert.equal(run(r, 3, 1), undefined, 'a window of 2 ticks is not full after one');
  });

  it('healthChange: only a delivering source is judged, and healthy staying healthy changes nothing', function () {
    assert.equal(healthChange('recovering', { state: 'degraded', reason: 'x' }), undefined);
    assert.deepEqual(healthChange('healthy', { state: 'degraded', reason: 'x' }), { state: 'degraded', reason: 'x' });
    assert.deepEqual(healthChange('degraded', { state: 'healthy' }), { state: 'healthy' });
    assert.equal(healthChange('healthy', { state: 'healthy' }), undefined);
  });
});

'use strict';
// The one retry policy of FFmpeg processes and pass-through cameras, on a clock the test moves.
const assert = require('node:assert/strict');
const { Recovery, DEFAULT_RECOVERY } = require('../../dist/core/capture/recovery.js');

function policy(overrides = {}) {
  const clock = { t: 1_000_000 };
  const r = new Recovery({ ...DEFAULT_RECOVERY, backoff: { baseMs: 1000, capMs: 8000, jitter: 0 }, ...overrides }, () => clock.t, () => 0.5);
  return { r, clock };
}

describe('Recovery (the restart policy of every source)', function () {
  it('a run that delivered frames restarts at once, even right after it started', function () {
    const { r } = policy();
    const retry = r.next({ permanent: false, delivered: true, reason: 'FFmpeg killed by SIGKILL' });
    assert.equal(retry.delayMs, 0);
    assert.equal(retry.state, 'recovering');
    assert.equal(retry.reason, 'FFmpeg killed by SIGKILL; retry 1 in 0.0 s');
  });

  it('a source that never delivers backs off exponentially, capped', function () {
    const { r } = policy();
    const delays = [1, 2, 3, 4, 5].map(() => r.next({ permanent: false, delivered: false, reason: 'refused' }).delayMs);
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 8000]);
    assert.equal(r.retries, 5);
  });

  it('a crash loop that delivers a frame each time gets one restart at once per healthy-run window, backoff between', function () {
    const { r, clock } = policy({ healthyRunMs: 5000 });
    const died = (afterMs) => {
      clock.t += afterMs;
      return r.next({ permanent: false, delivered: true, reason: 'died' }).delayMs;
    };
    assert.equal(died(0), 0);
    assert.equal(died(300), 1000);
    assert.equal(died(1300), 2000);
    // 5 s after the last restart at once, a run with frames earns another, and the backoff starts over.
    assert.equal(died(3400), 0);
    assert.equal(died(200), 1000);
  });

  it('frames flowing again reset the retry count; failed after maxRetries, with the count in the reason', function () {
    const { r } = policy({ maxRetries: 2 });
    for (let i = 0; i < 2; i++) assert.equal(r.next({ permanent: false, delivered: false, reason: 'x' }).state, 'recovering');
    const third = r.next({ permanent: false, delivered: false, reason: 'x' });
    assert.equal(third.state, 'failed');
    assert.equal(third.reason, 'x (after 2 retries)');
    r.delivered();
    assert.equal(r.retries, 0);
    assert.equal(r.next({ permanent: false, delivered: false, reason: 'x' }).state, 'recovering');
  });

  it('a permanent error waits failedRetryMs and does not count as a retry', function () {
    const { r } = policy({ failedRetryMs: 60_000 });
    const retry = r.next({ permanent: true, delivered: true, reason: 'authentication failed (401)' });
    assert.deepEqual(retry, { delayMs: 60_000, state: 'failed', reason: 'authentication failed (401)' });
    assert.equal(r.retries, 0);
  });

  it('healthyRunMs Infinity: backoff for every failure (the baseline of bench/recovery.js)', function () {
    const { r } = policy({ healthyRunMs: Infinity });
    assert.equal(r.next({ permanent: false, delivered: true, reason: 'x' }).delayMs, 1000);
  });
});

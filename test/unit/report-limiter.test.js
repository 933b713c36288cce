'use strict';
// One report per period for a fault repeated every frame, with how many were held back; a stepped clock.
const assert = require('node:assert/strict');
const { ReportLimiter } = require('../../dist/core/util/report-limiter.js');

describe('ReportLimiter', function () {
  it('reports the first at once, then one per period with the count held back since the last', function () {
    let now = 1000;
    const limiter = new ReportLimiter(10_000, () => now);
    const reports = [];
    // 10 faults a second for 30 s.
    for (let i = 0; i < 300; i++, now += 100) {
      const held = limiter.offer();
      if (held !== undefined) reports.push({ at: now - 1000, held });
    }
    assert.deepEqual(reports, [
      { at: 0, held: 0 },
      { at: 10_000, held: 99 },
      { at: 20_000, held: 99 },
    ]);
  });

  it('a fault after a quiet spell is reported at once', function () {
    let now = 0;
    const limiter = new ReportLimiter(1000, () => now);
    assert.equal(limiter.offer(), 0);
    now = 500;
    assert.equal(limiter.offer(), undefined);
    now = 60_000;
    assert.equal(limiter.offer(), 1);
    assert.equal(limiter.offer(), undefined);
  });
});

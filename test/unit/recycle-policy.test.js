'use strict';
// When the pool replaces a long-running FFmpeg: after a time, or above a memory bound, and only one that delivers.
const assert = require('node:assert/strict');
const { recycleReason } = require('../../dist/core/stream/recycle-policy.js');

const HOUR = 3_600_000;
const MB = 1048576;

describe('recycle policy', function () {
  const usage = (rss) => () => ({ cpuSeconds: 1, rssBytes: rss });
  const table = [
    ['off: never', {}, { upSince: 0, pid: 1 }, 100 * HOUR, usage(900 * MB), undefined],
    ['by age: due after 24 h of frames', { afterMs: 24 * HOUR }, { upSince: 0, pid: 1 }, 24 * HOUR, usage(50 * MB), 'ran 24.0 h'],
    ['by age: not yet', { afterMs: 24 * HOUR }, { upSince: 0, pid: 1 }, 23 * HOUR, usage(50 * MB), undefined],
    ['by memory: above the bound', { maxRssBytes: 200 * MB }, { upSince: 0, pid: 1 }, 1000, usage(250 * MB), 'resident memory 250 MB over 200 MB'],
    ['by memory: below', { maxRssBytes: 200 * MB }, { upSince: 0, pid: 1 }, 1000, usage(150 * MB), undefined],
    ['by memory: the process is gone (no reading)', { maxRssBytes: 200 * MB }, { upSince: 0, pid: 1 }, 1000, () => undefined, undefined],
    ['a process that has not delivered yet is left alone', { afterMs: 1, maxRssBytes: 1 }, { upSince: undefined, pid: 1 }, 24 * HOUR, usage(900 * MB), undefined],
    ['a recycle given up is not tried again within the hour', { afterMs: HOUR }, { upSince: 0, pid: 1, failedAt: 10 * HOUR }, 10.9 * HOUR, usage(50 * MB), undefined],
    ['... and is after it', { afterMs: HOUR }, { upSince: 0, pid: 1, failedAt: 10 * HOUR }, 11 * HOUR, usage(50 * MB), 'ran 11.0 h'],
  ];
  for (const [name, o, c, now, read, want] of table) {
    it(name, function () {
      assert.equal(recycleReason(o, c, now, read), want);
    });
  }
});

'use strict';
// What a stream's users need → which processes run with which outputs: the whole table, without starting any.
const assert = require('node:assert/strict');
const { planProcesses, covers } = require('../../dist/core/stream/demand-plan.js');

const CAM = { source: 'rtsp://cam/main', fps: 10, quality: 5 };
const SUB = { source: 'rtsp://cam/sub', fps: 5, quality: 5 };
const def = (over = {}) => ({ capture: CAM, lowFps: 0.5, ...over });
const GRAY = { width: 240, height: 180 };

/** The parts of a plan that say what runs: per process, JPEG every n-th frame (0: none), gray sizes, thumbnails. */
function shape(plan) {
  const out = {};
  for (const role of ['main', 'detect']) {
    const p = plan[role];
    if (!p) continue;
    const gray = p.gray === undefined ? [] : (Array.isArray(p.gray) ? p.gray : [p.gray]).map((g) => `${g.width}x${g.height}`);
    out[role] = { source: p.source, jpegEvery: p.jpeg === false ? 0 : p.jpegEvery ?? 1, gray, thumbs: p.thumbs ?? [] };
  }
  return out;
}

const TABLE = [
  ['nobody', def(), [], {}],
  ['a stream-health watcher asks for nothing', def(), [{}], {}],
  ['always on, nobody watching: stills every 2 s', def(), [{ run: true, jpeg: 'low' }], { main: { source: CAM.source, jpegEvery: 20, gray: [], thumbs: [] } }],
  ['one viewer: every frame', def(), [{ run: true, jpeg: 'full' }], { main: { source: CAM.source, jpegEvery: 1, gray: [], thumbs: [] } }],
  ['viewers capped at 2.5 fps: every 4th frame', def(), [{ run: true, jpeg: 10 / 4.5 }], { main: { source: CAM.source, jpegEvery: 4, gray: [], thumbs: [] } }],
  ['low rate 0: every frame always', def({ lowFps: 0 }), [{ run: true, jpeg: 'low' }], { main: { source: CAM.source, jpegEvery: 1, gray: [], thumbs: [] } }],
  ['motion alone: gray every frame, stills at the low rate', def(), [{ gray: GRAY }], { main: { source: CAM.source, jpegEvery: 20, gray: ['240x180'], thumbs: [] } }],
  ['two motion sizes and a viewer', def(), [{ gray: GRAY }, { gray: { width: 320, height: 240 } }, { run: true, jpeg: 'full' }],
    { main: { source: CAM.source, jpegEvery: 1, gray: ['240x180', '320x240'], thumbs: [] } }],
  ['a thumbnail viewer', def(), [{ run: true, jpeg: 'full' }, { thumb: 320 }], { main: { source: CAM.source, jpegEvery: 1, gray: [], thumbs: [320] } }],
  ['detect source, motion only: the sub-stream alone makes gray and stills', def({ detect: SUB }), [{ gray: GRAY }],
    { detect: { source: SUB.source, jpegEvery: 10, gray: ['240x180'], thumbs: [] } }],
  ['detect source and a viewer: both run, gray from the sub-stream', def({ detect: SUB }), [{ gray: GRAY }, { run: true, jpeg: 'full' }],
    { main: { source: CAM.source, jpegEvery: 1, gray: [], thumbs: [] }, detect: { source: SUB.source, jpegEvery: 10, gray: ['240x180'], thumbs: [] } }],
  ['detect source, no motion user: the main stream alone', def({ detect: SUB }), [{ run: true, jpeg: 'low' }],
    { main: { source: CAM.source, jpegEvery: 20, gray: [], thumbs: [] } }],
];

describe('demand plan: users\' demand → processes and their outputs', function () {
  for (const [name, d, demands, expected] of TABLE) {
    it(name, function () {
      assert.deepEqual(shape(planProcesses({ def: d, demands })), expected);
    });
  }

  it('nothing starts while hardware decoding is being probed; a hardware plan goes to the main process only', function () {
    assert.deepEqual(planProcesses({ def: def(), demands: [{ run: true }], accelPending: true }), {});
    const hw = { method: 'vaapi', label: 'vaapi', inputArgs: ['-hwaccel', 'vaapi'], scaleChain: () => 'null' };
    const plan = planProcesses({ def: def({ detect: SUB }), demands: [{ gray: GRAY }, { run: true, jpeg: 'full' }], hwPlan: hw });
    assert.equal(plan.main.plan, hw);
    assert.equal(plan.detect.plan, undefined);
  });

  it('covers: every frame covers every n-th, more gray sizes cover fewer, another source covers nothing', function () {
    const every = { ...CAM, jpegEvery: 1, gray: [GRAY] };
    assert.equal(covers(every, { ...CAM, jpegEvery: 20, gray: [GRAY] }), true);
    assert.equal(covers({ ...CAM, jpegEvery: 20 }, { ...CAM, jpegEvery: 1 }), false);
    assert.equal(covers({ ...CAM, jpegEvery: 2 }, { ...CAM, jpegEvery: 3 }), false);
    assert.equal(covers(every, { ...CAM, jpegEvery: 1 }), true);
    assert.equal(covers({ ...CAM }, { ...CAM, gray: [GRAY] }), false);
    assert.equal(covers(every, { ...CAM, source: 'rtsp://other/main', jpegEvery: 1 }), false);
  });
});

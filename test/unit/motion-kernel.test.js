'use strict';
// The WebAssembly kernel against the detector as it was in plain JavaScript (bench/reference/):
// on the ground-truth scenes and on hand-made frames aimed at the kernel's edges (16-pixel blocks,
// spans that do not start or end on a block, frame sizes that are not a multiple of 16, the table
// path), every frame's result must match.
const assert = require('node:assert/strict');
const { MotionDetector } = require('../../dist/core/motion/detector.js');
const { MotionDetector: Before } = require('../../bench/reference/motion-detector-before.js');
const { parseRegions } = require('../../dist/core/motion/roi.js');
const synth = require('../helpers/synth.js');

function snapshot(r) {
  return {
    motion: r.motion, changedArea: r.changedArea, score: r.score, bbox: r.bbox && { ...r.bbox },
    regions: r.regions.map((x) => ({ ...x })), globalChange: r.globalChange, learning: r.learning, gain: r.gain, offset: r.offset,
  };
}

/** Runs both detectors over the frames; returns the number of frames where either saw changed pixels. */
function compare(frames, w, h, options = {}) {
  const a = new MotionDetector(options);
  const b = new Before(options);
  let active = 0;
  frames.forEach((f, n) => {
    const ra = snapshot(a.detect(f, w, h));
    const rb = snapshot(b.detect(f, w, h));
    assert.deepEqual(ra, rb, `frame ${n}`);
    if (ra.changedArea > 0) active++;
  });
  return active;
}

describe('motion kernel: same results as the JavaScript detector', function () {
  this.timeout(60000);

  const scenes = [
    ['box crossing', { box: { n0: 30, n1: 70 } }, undefined],
    ['box on heavy noise', { box: { n0: 30, n1: 70, color: 'white' }, noise: 20 }, undefined],
    ['light switched on', { post: "eq=brightness=0.25:enable='gte(n,40)'" }, undefined],
    ['gamma change', { post: "eq=gamma=2.2:enable='gte(n,40)'" }, undefined],
    ['brightness ramp', { post: "eq=brightness='min(0.5,t*0.06)':eval=frame" }, undefined],
    ['IR inversion', { post: "lutyuv=y='255-val':enable='gte(n,40)'" }, undefined],
    ['box + light on', { box: { n0: 30, n1: 70 }, post: "eq=brightness=0.2:enable='gte(n,50)'" }, undefined],
    ['two regions + exclude', { box: { n0: 30, n1: 70, x0: 200, speed: 1, size: 30 } }, [
      { name: 'left', points: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]] },
      { name: 'right', points: [[0.5, 0], [1, 0], [1, 1], [0.5, 1]] },
      { name: 'tree', type: 'exclude', points: [[0.13, 0.2], [0.37, 0.2], [0.37, 0.7], [0.13, 0.7]] },
    ]],
  ];
  for (const [name, opts, regions] of scenes) {
    it(name, async function () {
      const frames = await synth.grayFrames(opts, 100);
      const active = compare(frames, 240, 180, { regions: regions ? parseRegions(regions) : [] });
      if (opts.box) assert.ok(active > 20, `only ${active} frames with changed pixels`);
    });
  }

  it('odd frame size (243x181) with slanted regions: spans start and end inside 16-pixel blocks', async function () {
    const frames = await synth.grayFrames({ box: { n0: 20, n1: 60, speed: 4 }, noise: 10 }, 80, 243, 181);
    const regions = parseRegions([
      { name: 'tri', points: [[0.03, 0.1], [0.97, 0.3], [0.2, 0.95]] },
      { name: 'strip', points: [[0.41, 0], [0.43, 0], [0.43, 1], [0.41, 1]] },
      { name: 'hole', type: 'exclude', points: [[0.5, 0.5], [0.6, 0.45], [0.62, 0.7]] },
    ]);
    assert.ok(compare(frames, 243, 181, { regions }) > 20);
  });

  it('hand-made changes at block edges, a single changed block, a change one pixel outside a region', function () {
    const w = 64;
    const h = 40;
    const still = Buffer.alloc(w * h);
    for (let i = 0; i < still.length; i++) still[i] = 60 + ((i * 37) % 50);
    const frames = [];
    for (let n = 0; n < 12; n++) frames.push(still);
    const put = (f, x0, y0, x1, y1, v) => { for (let y = y0; y < y1; y++) f.fill(v, y * w + x0, y * w + x1); };
    // 3x3 squares straddling a 16-pixel block boundary (x 15..17), at the frame's left and right edges,
    // one filling exactly one block (x 16..31 of one row band), and the last pixels of the frame.
    const cases = [[15, 5, 18, 8], [0, 10, 3, 13], [61, 20, 64, 23], [16, 30, 32, 33], [60, 37, 64, 40], [31, 15, 33, 17]];
    for (const [x0, y0, x1, y1] of cases) {
      const f = Buffer.from(still);
      put(f, x0, y0, x1, y1, 250);
      frames.push(f, f, still, still);
    }
    const opts = { minArea: 1 };
    const a = new MotionDetector(opts);
    frames.forEach((f) => a.detect(f, w, h));
    assert.ok(compare(frames, w, h, opts) >= cases.length, 'every case flagged pixels');
    // Region ending one pixel before a change: nothing; the same change one pixel inside: counted.
    const regions = parseRegions([{ name: 'r', points: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]] }]);
    const edge = [...frames.slice(0, 12)];
    const out = Buffer.from(still);
    put(out, 32, 10, 36, 14, 250);
    const inside = Buffer.from(still);
    put(inside, 29, 20, 33, 24, 250);
    edge.push(out, still, inside);
    const det = new MotionDetector({ minArea: 1, regions });
    const res = edge.map((f) => snapshot(det.detect(f, w, h)));
    assert.equal(res[12].changedArea, 0, 'change outside the region');
    assert.ok(res[14].changedArea > 0, 'change inside the region');
    compare(edge, w, h, { minArea: 1, regions });
  });
});

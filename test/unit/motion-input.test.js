'use strict';
// What motion-detect makes of a message, in every shape a wire may hand it: a camera's message as sent, or as a
// change, function or link node, or a JSON round trip, left it.
const assert = require('node:assert/strict');
const { planInput, bytesOf } = require('../../dist/nodes/motion-input.js');

const BOX = { width: 240, height: 180 };
const OURS = { grayKey: '240x180', box: BOX, demandedFrom: 'porch' };
const NOT_REGISTERED = { ...OURS, demandedFrom: undefined };
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);
const gray = (w = 240, h = 180, fill = 7) => Buffer.alloc(w * h, fill);

/** A camera's message as ffmpeg-source sends it, with gray frames of these sizes. */
function cameraMsg(sizes = { '240x180': [240, 180] }, stream = 'porch') {
  const g = {};
  for (const [key, [w, h]] of Object.entries(sizes)) g[key] = { data: gray(w, h), width: w, height: h, seq: 5, time: 1234 };
  const msg = { topic: stream, payload: JPEG, frame: { stream, seq: 5, time: 1200, size: 4, jpeg: true, gray: Object.keys(g) } };
  if (Object.keys(g).length > 0) msg.gray = g;
  return msg;
}

describe('motion-detect input: which gray frame, or the JPEG', function () {
  it('a camera message with our size: that gray frame, at its own time', function () {
    const p = planInput(cameraMsg({ '240x180': [240, 135], '120x90': [120, 68] }), OURS);
    assert.deepEqual([p.use, p.width, p.height, p.time, p.data.length], ['gray', 240, 135, 1234, 240 * 135]);
  });

  it('one frame from another node, any size: that frame (the detector checks its size)', function () {
    const p = planInput({ gray: { data: gray(64, 48), width: 64, height: 48 }, frame: { time: 99 } }, NOT_REGISTERED);
    assert.deepEqual([p.use, p.width, p.height, p.time], ['gray', 64, 48, 99]);
    const bad = planInput({ gray: { data: gray(10, 10), width: 64, height: 48 } }, NOT_REGISTERED);
    assert.equal(bad.use, 'gray', 'a wrong size is bad input to report, not a reason to decode');
  });

  it('gray frames turned into a list (a function node): the one that fits our box', function () {
    const msg = cameraMsg({ '120x90': [120, 90], '240x180': [240, 135] });
    msg.gray = Object.values(msg.gray);
    const p = planInput(msg, OURS);
    assert.deepEqual([p.use, p.width, p.height], ['gray', 240, 135]);
  });

  it('gray bytes as a plain array or a Buffer\'s JSON form (a JSON round trip) are read as bytes', function () {
    const msg = JSON.parse(JSON.stringify(cameraMsg()));
    assert.equal(msg.gray['240x180'].data.type, 'Buffer');
    const p = planInput({ ...msg, payload: JPEG }, OURS);
    assert.equal(p.use, 'gray');
    assert.ok(p.data instanceof Uint8Array && p.data.length === 240 * 180 && p.data[0] === 7);
    assert.deepEqual([...bytesOf([1, 2, 255])], [1, 2, 255]);
    assert.equal(bytesOf([1, 2, 256]), undefined);
    assert.equal(bytesOf('abc'), undefined);
    assert.deepEqual([...bytesOf(new Uint8ClampedArray([3, 4]))], [3, 4]);
  });

  it('gray cleared or mangled on the way: the JPEG is decoded, whatever shape gray arrived in', function () {
    for (const g of [[], {}, { data: [] }, { '240x180': { data: 'x', width: 240, height: 180 } }, { '240x180': null }, 'gray', 42]) {
      const msg = cameraMsg();
      msg.gray = g;
      assert.equal(planInput(msg, OURS).use, 'jpeg', JSON.stringify(g));
    }
    const dropped = cameraMsg();
    delete dropped.gray;
    assert.equal(planInput(dropped, OURS).use, 'jpeg', 'frame.gray lists ours, but msg.gray is gone');
  });

  it('our stream while its outputs switch (it lists its gray sizes, not ours): skipped, no decode', function () {
    assert.deepEqual(planInput(cameraMsg({ '120x90': [120, 90] }), OURS), { use: 'skip', time: 1200 });
    assert.deepEqual(planInput(cameraMsg({}), OURS), { use: 'skip', time: 1200 }, 'no gray size at all yet');
  });

  it('skipping needs proof: another stream, no demand made, or frame.gray not a list of sizes all decode', function () {
    assert.equal(planInput(cameraMsg({ '120x90': [120, 90] }, 'garden'), OURS).use, 'jpeg', 'not the stream we asked');
    assert.equal(planInput(cameraMsg({}), NOT_REGISTERED).use, 'jpeg', 'nobody makes our size: a function node hid the camera');
    for (const list of [undefined, 'x', [1, 2], { 0: '120x90' }]) {
      const msg = cameraMsg({});
      msg.frame.gray = list;
      assert.equal(planInput(msg, OURS).use, 'jpeg', JSON.stringify(list));
    }
  });

  it('a frame with gray for others and no JPEG: nothing to do; no frame and no JPEG: invalid', function () {
    const msg = cameraMsg({ '120x90': [120, 90] });
    delete msg.payload;
    msg.frame.jpeg = false;
    assert.deepEqual(planInput(msg, NOT_REGISTERED), { use: 'nothing', time: 1200 });
    assert.deepEqual(planInput({ payload: 'hello' }, OURS), { use: 'invalid' });
    assert.deepEqual(planInput({ payload: JPEG }, OURS), { use: 'jpeg', jpeg: JPEG, time: undefined });
  });
});

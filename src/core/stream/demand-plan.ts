/**
 * From what a stream's users need now to the processes that serve it: a pure function, so every case of the
 * demand → process table is tested in milliseconds (test/unit/demand-plan.test.js).
 */
import { boxKey, type Box, type CaptureOptions } from '../ffmpeg/options';
import type { DecodePlan } from '../ffmpeg/decode-plan';
import type { Demand, StreamDefinition } from './model';
import { baseSignature } from './signature';

export interface ProcessPlan {
  /** The camera's process: JPEG (every frame or every n-th), thumbnails, and the gray outputs unless a detect source makes them. */
  main?: CaptureOptions;
  /** The detect source's process: gray frames for motion and the low-rate stills. */
  detect?: CaptureOptions;
}

export interface PlanInput {
  def: StreamDefinition;
  demands: Iterable<Demand>;
  /** Hardware decoding in force for the main process (undefined: software). */
  hwPlan?: DecodePlan;
  /** Hardware decoding is still being probed: start nothing yet, rather than in software and again in hardware. */
  accelPending?: boolean;
}

/** The processes that serve these demands now; nothing runs unless someone asks it to. */
export function planProcesses({ def, demands, hwPlan, accelPending }: PlanInput): ProcessPlan {
  let run = false;
  let rate = 0;
  const grays = new Map<string, Box>();
  const thumbs = new Set<number>();
  const fps = def.capture.fps;
  for (const d of demands) {
    if (d.run || d.gray) run = true;
    const wanted = d.jpeg === 'full' ? fps : typeof d.jpeg === 'number' ? d.jpeg : 0;
    rate = Math.max(rate, wanted);
    if (d.gray) grays.set(boxKey(d.gray), d.gray);
    if (d.thumb) thumbs.add(d.thumb);
  }
  // A pass-through camera decodes nothing: hardware decoding neither applies nor needs waiting for.
  const passthrough = def.capture.passthrough === true;
  if (!run || (accelPending && !passthrough)) return {};
  const { lowFps, detect } = def;
  const capture = hwPlan && !passthrough ? { ...def.capture, plan: hwPlan } : def.capture;
  const wanted = rate;
  // Nobody needs more than the low rate (0: every frame always), or everyone is content with fewer frames.
  rate = Math.max(rate, lowFps > 0 ? lowFps : fps);
  const every = rate >= fps ? 1 : Math.max(1, Math.floor(fps / rate));
  const gray = [...grays.values()];
  const thumb = [...thumbs].sort((a, b) => a - b);
  const main = { ...capture, gray: undefined, jpeg: true, jpegEvery: every, thumbs: thumb.length ? thumb : undefined };
  if (detect && gray.length > 0) {
    // The sub-stream also makes the low-rate stills, so the main stream's process runs only while someone needs
    // more than that: most of the day a camera costs what decoding its small stream costs.
    const dfps = detect.fps || fps;
    const stillsEvery = lowFps > 0 && lowFps < dfps ? Math.max(1, Math.floor(dfps / lowFps)) : 1;
    const sub = { ...detect, fps: dfps, gray, jpeg: true, jpegEvery: stillsEvery };
    const needMain = lowFps <= 0 || wanted > lowFps || thumb.length > 0;
    return needMain ? { main, detect: sub } : { detect: sub };
  }
  return { main: { ...main, gray: gray.length ? gray : undefined } };
}

function boxesOf(capture: CaptureOptions | undefined): string[] {
  const g = capture?.gray;
  const list = g === undefined ? [] : Array.isArray(g) ? (g as readonly Box[]) : [g as Box];
  return list.map(boxKey);
}

/** A process with `have`'s outputs also serves `want` (it makes at least every frame and gray size `want` needs). */
export function covers(have: CaptureOptions, want: CaptureOptions): boolean {
  if (baseSignature(have) !== baseSignature(want)) return false;
  const haveJpeg = have.jpeg !== false;
  const wantJpeg = want.jpeg !== false;
  if (wantJpeg && !haveJpeg) return false;
  const he = have.jpegEvery ?? 1;
  const we = want.jpegEvery ?? 1;
  // Every n-th frame covers every m-th when m is a multiple of n (the thinner rate is a subset).
  if (wantJpeg && we % he !== 0) return false;
  const hb = new Set(boxesOf(have));
  const ht = new Set(have.thumbs ?? []);
  return boxesOf(want).every((b) => hb.has(b)) && (want.thumbs ?? []).every((w) => ht.has(w));
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// tsconfig's lib has no WebAssembly types (they come with the DOM lib); this is the part used here.
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
};

export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  /** Grows by `pages` of 64 KiB; views on the old buffer are detached. */
  grow(pages: number): number;
}

/**
 * The motion detector's WebAssembly kernel (src/core/motion/kernel.wat, compiled by
 * scripts/build-wasm.js into dist/core/). Pointers are byte offsets into `memory`.
 */
export interface MotionKernel {
  readonly memory: WasmMemory;
  detect(ranges: number, rangeCount: number, cur: number, bg8: number, thr: number, out: number): number;
  mark(changed: number, changedPad: number, count: number, map: number, width: number): void;
  clear(changedPad: number, count: number, map: number): void;
  count(changed: number, changedPad: number, count: number, map: number, width: number, height: number, minNeighbours: number,
    regionBits: number, regionCount: number, box: number): number;
  seed(cur: number, bgF: number, count: number, spanStart: number, spanEnd: number, spanCount: number, noise: number, thr: number,
    kN: number, T: number): void;
  accumulate(samples: number, samplesPad: number, count: number, cur: number, bg8: number, map: number, t: number, bins: number): number;
  inliers(samples: number, samplesPad: number, count: number, cur: number, bg8: number, map: number, lut: number, t: number,
    bins: number, sum: number): number;
  update(y0: number, step: number, height: number, width: number, rowSpan: number, spanStart: number, spanEnd: number,
    cur: number, bg8: number, bgF: number, noise: number, thr: number, map: number,
    a: number, aSlow: number, an: number, cap: number, kN: number, T: number): void;
  outside(samples: number, count: number, cur: number, bg8: number, bgF: number, rate: number): void;
}

let compiled: object | null = null;

/** A fresh instance (own memory) of the kernel; the module is compiled once per process. */
export function createMotionKernel(): MotionKernel {
  if (compiled === null) {
    const file = join(__dirname, 'kernel.wasm');
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (err) {
      throw new Error(`motion detector: cannot read ${file} (${(err as Error).message}); \`npm run build\` compiles it from src/core/motion/kernel.wat`);
    }
    compiled = new WebAssembly.Module(bytes);
  }
  return new WebAssembly.Instance(compiled, {}).exports as unknown as MotionKernel;
}

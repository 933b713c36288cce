'use strict';
// Build step after tsc: compiles the motion detector's WebAssembly kernel (src/core/motion/kernel.wat)
// to dist/core/motion/kernel.wasm with wabt. The .wasm ships in dist/, so users never need wabt.
const fs = require('node:fs');
const path = require('node:path');

(async () => {
  const wabt = await require('wabt')();
  const src = path.join(__dirname, '..', 'src', 'core', 'motion', 'kernel.wat');
  const out = path.join(__dirname, '..', 'dist', 'core', 'motion', 'kernel.wasm');
  const mod = wabt.parseWat(src, fs.readFileSync(src, 'utf8'), { simd: true, bulk_memory: true });
  mod.validate();
  const { buffer } = mod.toBinary({});
  mod.destroy();
  fs.mkdirSync(path.dirname(out), { recursive: true });
  // Unchanged output is left alone, so a build beside a running test suite rewrites nothing.
  const prior = fs.existsSync(out) ? fs.readFileSync(out) : undefined;
  if (!prior || !prior.equals(Buffer.from(buffer))) fs.writeFileSync(out, buffer);
})().catch((err) => {
  process.stderr.write(`build-wasm: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
});

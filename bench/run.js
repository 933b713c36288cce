'use strict';
// Runs every bench/*.js except this file, one after another as child processes, and prints each one's output.
// New benches are picked up by being there. Exits non-zero if any bench fails (the rest still run).
// Run: npm run bench   (builds first)   or   node bench/run.js
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

function runOne(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', (err) => resolve({ ok: false, why: err.message, ms: Date.now() - started }));
    child.on('close', (code, signal) => resolve({ ok: code === 0, why: signal ? `signal ${signal}` : `exit ${code}`, ms: Date.now() - started }));
  });
}

async function main() {
  const self = path.basename(__filename);
  const benches = fs.readdirSync(__dirname).filter((f) => f.endsWith('.js') && f !== self).sort();
  const failed = [];
  for (const name of benches) {
    process.stdout.write(`\n=== bench/${name} ===\n`);
    const r = await runOne(path.join(__dirname, name));
    process.stdout.write(`--- bench/${name}: ${r.ok ? 'ok' : `FAILED (${r.why})`} in ${(r.ms / 1000).toFixed(1)} s\n`);
    if (!r.ok) failed.push(name);
  }
  if (failed.length) {
    process.stdout.write(`\n${failed.length} of ${benches.length} benches failed: ${failed.join(', ')}\n`);
    process.exitCode = 1;
  }
}

main();

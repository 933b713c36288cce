'use strict';
// Process checks by PID: other programs on this machine run FFmpeg too, so tests never count globally.
const fs = require('node:fs');

function isAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie is dead for our purposes (its parent has not reaped it yet).
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Direct children of `ppid` whose command line matches `pattern`. */
function childrenOf(ppid, pattern = /ffmpeg/) {
  const out = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== ppid || fields[0] === 'Z') continue;
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (pattern.test(cmd)) out.push(Number(entry));
    } catch {
      // gone while we looked
    }
  }
  return out;
}

async function waitFor(predicate, timeoutMs, stepMs = 50) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > end) return value;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Like waitFor, but a timeout is a failure naming what was awaited; resolves to the predicate's value.
 * `what` may be a function, asked at the timeout, so the failure can show what was seen by then.
 */
async function until(predicate, what = 'condition', timeoutMs = 20000) {
  const value = await waitFor(predicate, timeoutMs, 5);
  if (!value) throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`);
  return value;
}

module.exports = { isAlive, childrenOf, waitFor, until, delay };

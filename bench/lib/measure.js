'use strict';
// What every bench measures the same way: CPU time from the kernel, and medians.
const fs = require('node:fs');

/** /proc/<pid>/stat counts in USER_HZ ticks, fixed at 100 for user space on every architecture Node runs on. */
const USER_HZ = 100;

/** The fields of a stat line from field 3 (state) on: the command name (field 2) may hold spaces and ')'. */
function statFields(pid) {
  const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return st.slice(st.lastIndexOf(')') + 2).split(' ');
}

const ticksToMs = (ticks) => (ticks * 1000) / USER_HZ;

/** A live process's user+system CPU ms (utime+stime); undefined once it is gone. */
function pidCpuMs(pid) {
  try {
    const f = statFields(pid);
    return ticksToMs(Number(f[11]) + Number(f[12]));
  } catch {
    return undefined;
  }
}

/** CPU ms of this process's children that have exited and been waited for (cutime+cstime). */
function waitedChildrenCpuMs() {
  const f = statFields('self');
  return ticksToMs(Number(f[13]) + Number(f[14]));
}

/** This process's CPU ms (every thread: libuv's pool, where sharp and zlib work, included), optionally since a mark. */
function ownCpuMs(since) {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

module.exports = { pidCpuMs, waitedChildrenCpuMs, ownCpuMs, median, USER_HZ };

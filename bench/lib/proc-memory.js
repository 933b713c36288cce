'use strict';
// A process's memory, descriptors and children as Linux reports them in /proc, read from outside the process.
const fs = require('node:fs');

/** kB fields of /proc/PID/status (VmRSS, RssAnon, RssFile, VmHWM, Threads) in bytes (Threads as a count). */
function status(pid) {
  const out = {};
  for (const line of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(VmRSS|VmHWM|RssAnon|RssFile|RssShmem|Threads):\s+(\d+)/.exec(line);
    if (m) out[m[1]] = m[1] === 'Threads' ? Number(m[2]) : Number(m[2]) * 1024;
  }
  return out;
}

/** Open file descriptors. */
function fdCount(pid) {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** What the descriptors are, by kind (socket, pipe, anon_inode:[eventfd], a file path's first folder...). */
function fdKinds(pid) {
  const kinds = {};
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    let target;
    try {
      target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const kind = /^(\w+):/.exec(target)?.[1] ?? (target.startsWith('/') ? `/${target.split('/')[1]}` : target);
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  return kinds;
}

/** Direct children of `ppid`: [{pid, comm, zombie}]. */
function children(ppid) {
  const out = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      if (Number(fields[1]) !== ppid) continue;
      out.push({ pid: Number(entry), comm: stat.slice(stat.indexOf('(') + 1, close), zombie: fields[0] === 'Z' });
    } catch {
      // gone while we looked
    }
  }
  return out;
}

const ARENA_ALIGN = 64 * 1024 * 1024;

/**
 * Where a process's resident memory lies, from /proc/PID/smaps: the main malloc arena (`[heap]`, grown by brk), the
 * other glibc malloc arenas (each thread that allocates gets one: their heaps are anonymous mappings aligned to
 * 64 MiB, HEAP_MAX_SIZE on 64-bit), the rest of the anonymous memory (V8's heap pages, large malloc blocks mapped on
 * their own, thread stacks) and file-backed memory (code of node, libvips, FFmpeg's libraries...). Bytes.
 */
function smapsBreakdown(pid) {
  const text = fs.readFileSync(`/proc/${pid}/smaps`, 'utf8');
  const out = { brkHeap: 0, arenas: 0, arenaCount: 0, otherAnon: 0, file: 0, total: 0 };
  let kind;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const start = parseInt(head[1], 16);
      const name = head[4];
      if (name === '[heap]') kind = 'brkHeap';
      else if (name.startsWith('/')) kind = 'file';
      else if (name === '' && head[3].startsWith('rw') && start % ARENA_ALIGN === 0) {
        kind = 'arenas';
        out.arenaCount++;
      } else kind = 'otherAnon';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && kind) {
      const bytes = Number(rss[1]) * 1024;
      out[kind] += bytes;
      out.total += bytes;
    }
  }
  return out;
}

/** /proc/PID/smaps_rollup in bytes (Rss, Pss, Anonymous, Private_Dirty, ...). */
function smapsRollup(pid) {
  const out = {};
  for (const line of fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').split('\n')) {
    const m = /^(\w+):\s+(\d+) kB/.exec(line);
    if (m) out[m[1]] = Number(m[2]) * 1024;
  }
  return out;
}

module.exports = { status, fdCount, fdKinds, children, smapsBreakdown, smapsRollup };

import { closeSync, openSync, readSync } from 'node:fs';

/** What a process has cost so far, read from the kernel. */
export interface ProcessUsage {
  /** User plus system CPU time since the process started. */
  cpuSeconds: number;
  /** Resident set size now. */
  rssBytes: number;
}

/**
 * /proc/<pid>/stat counts CPU time in USER_HZ ticks, which Linux fixes at 100 for user space on every architecture
 * Node.js runs on (it is not the kernel's CONFIG_HZ), so no `getconf CLK_TCK` is needed.
 */
const USER_HZ = 100;

/** A stat line is under 400 bytes; one buffer serves every read (they are synchronous). */
const buffer = Buffer.allocUnsafe(4096);

/**
 * Synchronous on purpose: procfs files are made in memory by the kernel as they are read and never wait on a disk;
 * open/read/close into a reused buffer costs about a fifth of fs.promises.readFile on the thread pool.
 */
function readSmall(path: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const n = readSync(fd, buffer, 0, buffer.length, 0);
    return buffer.toString('latin1', 0, n);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

let pageSize: number | undefined;

/**
 * The kernel's page size (4 KiB on x86; 16 or 64 KiB on some arm64 kernels, the Raspberry Pi 5's among them), which
 * stat's RSS is counted in. Node has no call for it, but process.memoryUsage.rss() is libuv's reading of this very
 * counter in /proc/self/stat times the page size: the two read a moment apart give it, rounded to a power of two.
 */
function systemPageSize(): number {
  if (pageSize === undefined) {
    const stat = readSmall('/proc/self/stat');
    const pages = stat ? Number(statFields(stat)[21]) : NaN;
    pageSize = pages > 0 ? 2 ** Math.round(Math.log2(process.memoryUsage.rss() / pages)) : 4096;
  }
  return pageSize;
}

/** The fields of a stat line from field 3 (state) on: the command name (field 2) may hold spaces and ')'. */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU time and resident memory from the text of a /proc/<pid>/stat file. */
export function parseProcessUsage(stat: string, bytesPerPage: number): ProcessUsage | undefined {
  const fields = statFields(stat);
  // Fields 14 (utime), 15 (stime) and 24 (rss, in pages) of proc(5), counted here from field 3 at index 0.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const rss = Number(fields[21]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime) || !Number.isFinite(rss)) return undefined;
  return { cpuSeconds: (utime + stime) / USER_HZ, rssBytes: rss * bytesPerPage };
}

/**
 * CPU time and resident memory of one process, read from /proc (Linux: Home Assistant OS, Docker, Raspberry Pi OS).
 * Undefined when the process is gone or the system has no /proc. One small read and no state: nothing to leak when
 * FFmpeg restarts with a new pid, and no timer. (pidusage 4, the library for this, keeps an open descriptor of each
 * pid's stat file for 60 s in a process-wide history, even after that pid died; see docs/health-notes.md.)
 */
export function readProcessUsage(pid: number, procRoot = '/proc'): ProcessUsage | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const stat = readSmall(`${procRoot}/${pid}/stat`);
  return stat === undefined ? undefined : parseProcessUsage(stat, systemPageSize());
}

/** The sum over several processes (a stream's main and detect FFmpeg); undefined when none could be read. */
export function readProcessesUsage(pids: readonly number[], procRoot = '/proc'): ProcessUsage | undefined {
  let total: ProcessUsage | undefined;
  for (const pid of pids) {
    const u = readProcessUsage(pid, procRoot);
    if (!u) continue;
    total ??= { cpuSeconds: 0, rssBytes: 0 };
    total.cpuSeconds += u.cpuSeconds;
    total.rssBytes += u.rssBytes;
  }
  return total;
}

import { readFile } from 'node:fs/promises';

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

/**
 * CPU time and resident memory of one process, read from /proc (Linux: Home Assistant OS, Docker, Raspberry Pi OS).
 * Undefined when the process is gone or the system has no /proc. Two small reads and no state: nothing to leak
 * when FFmpeg restarts with a new pid, and no timer. (pidusage 4, the library for this, keeps an open descriptor
 * of each pid's stat file for 60 s in a process-wide history, even after that pid died; see docs/health-notes.md.)
 */
export async function readProcessUsage(pid: number, procRoot = '/proc'): Promise<ProcessUsage | undefined> {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  let status: string;
  try {
    [stat, status] = await Promise.all([readFile(`${procRoot}/${pid}/stat`, 'latin1'), readFile(`${procRoot}/${pid}/status`, 'latin1')]);
  } catch {
    return undefined;
  }
  return parseProcessUsage(stat, status);
}

/** The figures of one process from the text of its /proc stat and status files. */
export function parseProcessUsage(stat: string, status: string): ProcessUsage | undefined {
  // The command name (field 2) is in parentheses and may hold spaces or ')': fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 (utime) and 15 (stime) of proc(5), counted here from field 3 (state) at index 0.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  // VmRSS is in kB whatever the page size (arm64 kernels use 16 or 64 KiB pages, e.g. on the Raspberry Pi 5).
  const rss = /^VmRSS:\s*(\d+)\s*kB/m.exec(status);
  return { cpuSeconds: (utime + stime) / USER_HZ, rssBytes: rss ? Number(rss[1]) * 1024 : 0 };
}

/** The sum over several processes (a stream's main and detect FFmpeg); undefined when none could be read. */
export async function readProcessesUsage(pids: readonly number[], procRoot = '/proc'): Promise<ProcessUsage | undefined> {
  const all = await Promise.all(pids.map((pid) => readProcessUsage(pid, procRoot)));
  let total: ProcessUsage | undefined;
  for (const u of all) {
    if (!u) continue;
    total ??= { cpuSeconds: 0, rssBytes: 0 };
    total.cpuSeconds += u.cpuSeconds;
    total.rssBytes += u.rssBytes;
  }
  return total;
}

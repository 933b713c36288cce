import { spawn } from 'node:child_process';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Killed because it ran past the timeout. */
  timedOut: boolean;
}

export interface RunOptions {
  timeoutMs: number;
  /** Output kept per stream; the rest is read and dropped so the child never blocks on a full pipe. */
  maxBytes?: number;
}

/**
 * Runs FFmpeg once to completion (argument array, no shell, no stdin) and collects its output. A child that
 * outlives the timeout is killed with SIGKILL: a hung GPU driver does not answer SIGTERM.
 */
export function runFfmpeg(command: string, args: readonly string[], o: RunOptions): Promise<RunResult> {
  const max = o.maxBytes ?? 1 << 20;
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, o.timeoutMs);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      if (stdout.length < max) stdout += d;
    });
    child.stderr.on('data', (d: string) => {
      if (stderr.length < max) stderr += d;
    });
    child.on('error', (err) => {
      // Spawn failed (no such file, not executable): 'close' follows with no exit code.
      stderr += `${stderr && !stderr.endsWith('\n') ? '\n' : ''}${err.message}\n`;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

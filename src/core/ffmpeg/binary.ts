import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { spawn } from 'node:child_process';

export type FfmpegOrigin = 'configured' | 'path' | 'bundled';

export interface FfmpegBinary {
  path: string;
  origin: FfmpegOrigin;
  /** First line of `ffmpeg -version`, e.g. "ffmpeg version 5.1.8-0+deb12u1". */
  version: string;
  /** Release the options are built for; git builds ("N-47683-g…") are dated by their libavutil version. */
  release?: { major: number; minor: number };
}

/**
 * The FFmpeg release of a `-version` text. Git snapshots carry no release number, so libavutil's major
 * (56: 4.x, 57: 5.x, 58: 6.x, …) tells it; 56.51 is the first 4.3.
 */
export function releaseOf(versionText: string): { major: number; minor: number } | undefined {
  const named = /^ffmpeg version n?(\d+)\.(\d+)/m.exec(versionText);
  if (named) return { major: Number(named[1]), minor: Number(named[2]) };
  const lavu = /^libavutil\s+(\d+)\.\s*(\d+)\./m.exec(versionText);
  if (!lavu) return undefined;
  const major = Number(lavu[1]);
  const minor = Number(lavu[2]);
  if (major < 56) return { major: 3, minor: 0 };
  if (major === 56) return { major: 4, minor: minor >= 51 ? 3 : 2 };
  if (major === 57) return { major: 5, minor: minor >= 28 ? 1 : 0 };
  return { major: major - 52, minor: 0 };
}

export class FfmpegNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FfmpegNotFoundError';
  }
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Looks a command up on PATH the way a shell would, without running a shell. */
export function findOnPath(command: string, pathEnv = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function bundledPath(): string | undefined {
  try {
    // Optional dependency: absent on platforms it does not ship for, or when installed with --omit=optional.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const installer = require('@ffmpeg-installer/ffmpeg') as { path?: string };
    return installer.path && isExecutable(installer.path) ? installer.path : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Picks the binary in the documented order: the configured path, then `ffmpeg` on PATH, then the static build
 * shipped by @ffmpeg-installer/ffmpeg. A configured path that does not work is an error, not a silent fallback,
 * so that a typo in the config node is visible.
 */
export function locateFfmpeg(configured?: string): { path: string; origin: FfmpegOrigin } {
  const wanted = configured?.trim();
  if (wanted) {
    const resolved = wanted.includes('/') ? wanted : findOnPath(wanted);
    if (resolved && isExecutable(resolved)) return { path: resolved, origin: 'configured' };
    throw new FfmpegNotFoundError(`FFmpeg not found or not executable at the configured path "${wanted}"`);
  }
  const onPath = findOnPath('ffmpeg');
  if (onPath) return { path: onPath, origin: 'path' };
  const bundled = bundledPath();
  if (bundled) return { path: bundled, origin: 'bundled' };
  throw new FfmpegNotFoundError(
    'FFmpeg not found: install it (e.g. apt-get install ffmpeg), set its path on the process-pool node, or install @ffmpeg-installer/ffmpeg',
  );
}

/** Runs `ffmpeg -version` (no shell) and returns its text; rejects if the binary does not run. */
export function probeVersion(path: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, ['-hide_banner', '-version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new FfmpegNotFoundError(`"${path} -version" did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      if (out.length < 4096) out += d;
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new FfmpegNotFoundError(`FFmpeg at "${path}" could not be started: ${err.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const first = out.split('\n')[0]?.trim() ?? '';
      if (code === 0 && first.startsWith('ffmpeg version')) resolve(out);
      else reject(new FfmpegNotFoundError(`"${path}" is not a working FFmpeg (exit ${code})`));
    });
  });
}

export async function resolveFfmpeg(configured?: string): Promise<FfmpegBinary> {
  const found = locateFfmpeg(configured);
  const text = await probeVersion(found.path);
  return { ...found, version: text.split('\n')[0]!.trim(), release: releaseOf(text) };
}

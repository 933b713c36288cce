import { ProcessPool } from '../core/pool';
import { clampNumber } from './config';

/** The process-pool editor fields (seconds, as strings or numbers). */
export interface PoolConfigDef {
  ffmpegPath?: string;
  idleGrace?: string | number;
  backoffBase?: string | number;
  backoffCap?: string | number;
  stallTimeout?: string | number;
}

/** Builds a pool from config values (seconds in the editor, milliseconds in the core), clamped once here. */
export function poolFromConfig(def: PoolConfigDef): ProcessPool {
  const baseMs = clampNumber(def.backoffBase, 1, 0.1, 60) * 1000;
  return new ProcessPool({
    ffmpegPath: typeof def.ffmpegPath === 'string' ? def.ffmpegPath : undefined,
    idleGraceMs: clampNumber(def.idleGrace, 10, 0, 3600) * 1000,
    supervisor: {
      backoff: { baseMs, capMs: Math.max(baseMs, clampNumber(def.backoffCap, 30, 1, 600) * 1000), jitter: 0.2 },
      stallTimeoutMs: clampNumber(def.stallTimeout, 10, 2, 300) * 1000,
    },
  });
}

/** Logs the chosen binary once and reports a missing one as an error, not a crash. */
export function reportBinary(pool: ProcessPool, log: (msg: string) => void, error: (msg: string) => void): void {
  pool.on('binary', (b) => log(`FFmpeg: ${b.path} (${b.origin}) — ${b.version}`));
  pool.on('binaryError', (err) => error(err.message));
}


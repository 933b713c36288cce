import { ProcessPool, type PoolOptions } from '../core/pool';
import { clampNumber } from './config';

/** The process-pool editor fields (seconds, as strings or numbers). */
export interface PoolConfigDef {
  ffmpegPath?: string;
  idleGrace?: string | number;
  backoffBase?: string | number;
  backoffCap?: string | number;
  stallTimeout?: string | number;
}

/** Pool options from config values (seconds in the editor, milliseconds in the core), clamped once here. */
export function poolOptions(def: PoolConfigDef): PoolOptions {
  const baseMs = clampNumber(def.backoffBase, 1, 0.1, 60) * 1000;
  return {
    ffmpegPath: typeof def.ffmpegPath === 'string' && def.ffmpegPath.trim() !== '' ? def.ffmpegPath.trim() : undefined,
    idleGraceMs: clampNumber(def.idleGrace, 10, 0, 3600) * 1000,
    supervisor: {
      backoff: { baseMs, capMs: Math.max(baseMs, clampNumber(def.backoffCap, 30, 1, 600) * 1000), jitter: 0.2 },
      // Empty or 0: 10 frame intervals of each stream, at least 5 s (see stallLimitMs).
      stallTimeoutMs: clampNumber(def.stallTimeout, 0, 0, 300) * 1000,
    },
  };
}

export function poolFromConfig(def: PoolConfigDef): ProcessPool {
  return new ProcessPool(poolOptions(def));
}

/** Logs the chosen binary once and reports a missing one as an error, not a crash. */
export function reportBinary(pool: ProcessPool, log: (msg: string) => void, error: (msg: string) => void): () => void {
  const onBinary = (b: { path: string; origin: string; version: string }): void => log(`FFmpeg: ${b.path} (${b.origin}) — ${b.version}`);
  const onError = (err: Error): void => error(err.message);
  pool.on('binary', onBinary);
  pool.on('binaryError', onError);
  return () => {
    pool.off('binary', onBinary);
    pool.off('binaryError', onError);
  };
}

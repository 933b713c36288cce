import type { CaptureLike } from '../core/capture/capture';
import { ProcessPool, type PoolOptions } from '../core/stream/pool';
import { rangeMessage, readNumbers, type Translate } from './config';
import { POOL_RULES } from './field-rules';
import type { NodeRedRuntime } from './red-types';

/** The process-pool editor fields (seconds, as strings or numbers). */
export interface PoolConfigDef {
  [key: string]: unknown;
  ffmpegPath?: string;
  idleGrace?: string | number;
  backoffBase?: string | number;
  backoffCap?: string | number;
  stallTimeout?: string | number;
  decoderThreads?: string | number;
  recycleHours?: string | number;
  recycleMb?: string | number;
}

export interface PoolConfig {
  options: PoolOptions;
  /** Why the config is refused, one message per field, in the process-pool catalog; empty when it is valid. */
  problems: string[];
}

/** Pool options from config values (seconds in the editor, milliseconds in the core), checked once here. */
export function readPoolConfig(def: PoolConfigDef, _: Translate): PoolConfig {
  const { values, problems } = readNumbers(def, POOL_RULES);
  const messages = problems.map((p) => rangeMessage(_, 'process-pool', p));
  const baseMs = values.backoffBase * 1000;
  let capMs = values.backoffCap * 1000;
  if (capMs < baseMs) {
    messages.push(_('process-pool.errors.backoffCap', { cap: values.backoffCap, base: values.backoffBase }));
    capMs = baseMs;
  }
  return {
    problems: messages,
    options: {
      ffmpegPath: typeof def.ffmpegPath === 'string' && def.ffmpegPath.trim() !== '' ? def.ffmpegPath.trim() : undefined,
      idleGraceMs: values.idleGrace * 1000,
      decoderThreads: values.decoderThreads,
      recycle: { afterMs: values.recycleHours * 3_600_000, maxRssBytes: values.recycleMb * 1048576 },
      supervisor: {
        backoff: { baseMs, capMs, jitter: 0.2 },
        // Empty or 0: 10 frame intervals of each stream, at least 5 s (see stallLimitMs).
        stallTimeoutMs: values.stallTimeout * 1000,
      },
    },
  };
}

/** The default pool's options: every field empty. */
export function defaultPoolOptions(): PoolOptions {
  return readPoolConfig({}, (key) => key).options;
}

/**
 * The process-pool catalog's translator. The default pool has no node of its own: its log lines use the catalog of
 * the process-pool node type, which Node-RED registered before any node was built; the caller's own RED._ is the
 * fallback (the test helper loads only the node types a test needs).
 */
const poolTranslators = new WeakMap<object, Translate>();

export function registerPoolCatalog(RED: NodeRedRuntime): void {
  poolTranslators.set(RED.events, RED._);
}

export function poolCatalog(RED: NodeRedRuntime): Translate {
  return poolTranslators.get(RED.events) ?? RED._;
}

/**
 * Logs the chosen binary once, reports a missing one as an error, not a crash, and logs each recycled process
 * (`info` gets the catalog key and its substitutions). Returns the undo.
 */
export function reportPool(
  pool: ProcessPool,
  log: (b: { path: string; origin: string; version: string }) => void,
  error: (err: Error) => void,
  info: (key: string, subs: Record<string, string>) => void,
): () => void {
  const recycled = (capture: CaptureLike, reason: string, ok: boolean): void => {
    info(ok ? 'process-pool.log.recycled' : 'process-pool.log.recycleFailed', { source: capture.description, reason });
  };
  pool.on('binary', log);
  pool.on('binaryError', error);
  pool.on('recycle', recycled);
  return () => {
    pool.off('binary', log);
    pool.off('binaryError', error);
    pool.off('recycle', recycled);
  };
}

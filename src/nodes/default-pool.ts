import type { ProcessPool } from '../core/pool';
import { poolFromConfig, reportBinary } from './pool-config';

/**
 * A source without a process-pool config node still gets one shared pool for the whole runtime, so a flow
 * imported without its config node works; it is closed when its last user closes.
 */
let shared: { pool: ProcessPool; users: Set<string> } | undefined;

export function acquireDefaultPool(userId: string, log: (m: string) => void, error: (m: string) => void): ProcessPool {
  if (!shared) {
    const pool = poolFromConfig({});
    reportBinary(pool, log, error);
    shared = { pool, users: new Set() };
  }
  shared.users.add(userId);
  return shared.pool;
}

export async function releaseDefaultPool(userId: string): Promise<void> {
  const current = shared;
  if (!current || !current.users.delete(userId) || current.users.size > 0) return;
  shared = undefined;
  await current.pool.close();
}

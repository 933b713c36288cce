import type { LabelledPool } from '../core/health/health';
import type { ProcessPool } from '../core/stream/pool';
import { trimmed } from './config';
import { lifecycleOf } from './lifecycle';
import type { NodeRedRuntime } from './red-types';

export const POOL_TYPE = 'glimpser-process-pool';
export const DEFAULT_POOL_LABEL = 'default';

/**
 * Every pool of the runtime with the label health and metrics show for it: its process-pool node's name (its id
 * when unnamed, or when two share a name, so no two pools give the same series), "default" for the default pool.
 */
export function labelledPools(RED: NodeRedRuntime): LabelledPool[] {
  const named = new Map<ProcessPool, { name: string; id: string }>();
  const seen = new Map<string, number>();
  RED.nodes.eachNode((d) => {
    if (d.type !== POOL_TYPE) return;
    const pool = (RED.nodes.getNode(d.id) as { pool?: ProcessPool } | null)?.pool;
    const name = trimmed(d.name) || d.id;
    seen.set(name, (seen.get(name) ?? 0) + 1);
    if (pool) named.set(pool, { name, id: d.id });
  });
  return lifecycleOf(RED)
    .pools()
    .map((pool) => {
      const n = named.get(pool);
      if (!n) return { label: DEFAULT_POOL_LABEL, pool };
      const clash = (seen.get(n.name) ?? 0) > 1 || (n.name === DEFAULT_POOL_LABEL && n.name !== n.id);
      return { label: clash ? `${n.name} (${n.id})` : n.name, pool };
    });
}

/** The label of one pool, as labelledPools gives it. */
export function poolLabel(RED: NodeRedRuntime, pool: ProcessPool): string {
  return labelledPools(RED).find((p) => p.pool === pool)?.label ?? DEFAULT_POOL_LABEL;
}

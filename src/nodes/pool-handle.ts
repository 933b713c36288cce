import { ProcessPool } from '../core/stream/pool';
import type { Translate } from './config';
import { lifecycleOf, type Lifecycle } from './lifecycle';
import { defaultPoolOptions, poolCatalog, reportPool } from './pool-config';
import type { Node, NodeRedRuntime } from './red-types';

/**
 * A pool as its users see it, like Node-RED's mqtt-broker config node: nodes register on construction and
 * deregister in their close. The process-pool config node is one; the default pool is the other.
 */
export interface PoolHandle {
  readonly pool: ProcessPool;
  /** Named `users` like mqtt-broker's: the runtime routes a config node's status and errors to its users' flows. */
  readonly users: Record<string, Node>;
  /** Set when the pool's config is refused: its sources report this instead of starting. */
  readonly configError?: string;
  register(node: Node): void;
  /** `done` runs once the node's share is given up (after the pool closed, when it was the last user removed). */
  deregister(node: Node, done: () => void, removed: boolean): void;
}

const DEFAULT_KEY = 'pool:default';

/**
 * The pool of every source that names no process-pool config node: one per runtime, with the default settings
 * (FFmpeg from PATH or the bundled build, 10 s idle grace, 1–30 s backoff). It is made by its first user, parked
 * across a deploy like a config node's pool, and closed when its last user is removed.
 */
export class DefaultPool implements PoolHandle {
  readonly users: Record<string, Node> = {};
  private current: ProcessPool | undefined;
  private unreport: (() => void) | undefined;

  constructor(
    private readonly lifecycle: Lifecycle,
    private readonly log: Pick<NodeRedRuntime['log'], 'info' | 'error'>,
    private readonly _: Translate,
  ) {}

  get pool(): ProcessPool {
    if (!this.current) {
      const pool = this.lifecycle.take<ProcessPool>(DEFAULT_KEY, '') ?? new ProcessPool(defaultPoolOptions());
      this.current = pool;
      this.lifecycle.addPool(pool);
      this.unreport = reportPool(
        pool,
        (b) => this.log.info(this._('process-pool.log.defaultBinary', { path: b.path, origin: b.origin, version: b.version })),
        (err) => this.log.error(this._('process-pool.errors.defaultBinary', { message: err.message })),
        (key, subs) => this.log.info(this._('process-pool.log.default', { message: this._(key, subs) })),
      );
    }
    return this.current;
  }

  register(node: Node): void {
    void this.pool;
    this.users[node.id] = node;
  }

  deregister(node: Node, done: () => void, removed: boolean): void {
    delete this.users[node.id];
    const pool = this.current;
    if (!pool || Object.keys(this.users).length > 0) return done();
    this.current = undefined;
    this.unreport?.();
    this.lifecycle.removePool(pool);
    if (removed || this.lifecycle.stopping) {
      pool.close().then(done, done);
      return;
    }
    this.lifecycle.park(DEFAULT_KEY, '', pool, () => pool.close());
    done();
  }
}

const defaults = new WeakMap<Lifecycle, DefaultPool>();

/** The pool a node uses: the process-pool config node with this id, else the runtime's default pool. */
export function poolHandleFor(RED: NodeRedRuntime, poolId: string | undefined): PoolHandle {
  const node = poolId ? (RED.nodes.getNode(poolId) as (Node & Partial<PoolHandle>) | null) : null;
  if (node && node.pool && typeof node.register === 'function') return node as Node & PoolHandle;
  const lc = lifecycleOf(RED);
  let d = defaults.get(lc);
  if (!d) {
    d = new DefaultPool(lc, RED.log, poolCatalog(RED));
    defaults.set(lc, d);
  }
  return d;
}

import { ProcessPool } from '../core/stream/pool';
import { lifecycleOf, settingsHash } from './lifecycle';
import { readPoolConfig, registerPoolCatalog, reportPool, type PoolConfigDef } from './pool-config';
import type { PoolHandle } from './pool-handle';
import type { Node, NodeDef, NodeRedRuntime } from './red-types';

type ProcessPoolDef = NodeDef & PoolConfigDef;

interface ProcessPoolNode extends Node, PoolHandle {
  pool: ProcessPool;
  users: Record<string, Node>;
  configError?: string;
}

function register(RED: NodeRedRuntime): void {
  function ProcessPoolConfig(this: ProcessPoolNode, def: ProcessPoolDef): void {
    RED.nodes.createNode(this, def);
    const lifecycle = lifecycleOf(RED);
    const { options, problems } = readPoolConfig(def, RED._);
    // Refused: every problem is reported, and the sources of this pool refuse to start (they say why).
    for (const p of problems) this.error(p);
    if (problems.length > 0) this.configError = problems.join('; ');
    // A redeploy with the same FFmpeg keeps the running processes (other settings apply to new processes).
    const key = `pool:${this.id}`;
    const hash = settingsHash({ ffmpegPath: options.ffmpegPath ?? '' });
    const adopted = lifecycle.take<ProcessPool>(key, hash);
    const pool = adopted ?? new ProcessPool(options);
    if (adopted) pool.configure(options);
    this.pool = pool;
    this.users = {};
    lifecycle.addPool(pool);
    const unreport = reportPool(
      pool,
      (b) => this.log(RED._('process-pool.log.binary', { path: b.path, origin: b.origin, version: b.version })),
      (err) => this.error(RED._('process-pool.errors.binary', { message: err.message })),
      (key, subs) => this.log(RED._(key, subs)),
    );
    this.register = (node) => {
      this.users[node.id] = node;
    };
    this.deregister = (node, done) => {
      delete this.users[node.id];
      done();
    };
    this.on('close', (removed: boolean, done: () => void) => {
      unreport();
      lifecycle.removePool(pool);
      if (removed || lifecycle.stopping) {
        pool.close().then(done, (err: Error) => {
          this.error(RED._('process-pool.errors.close', { message: err.message }));
          done();
        });
        return;
      }
      lifecycle.park(key, hash, pool, () => pool.close());
      done();
    });
  }
  registerPoolCatalog(RED);
  RED.nodes.registerType('glimpser-process-pool', ProcessPoolConfig);
}

export = register;

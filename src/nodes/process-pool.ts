import type { ProcessPool } from '../core/pool';
import { lifecycleOf, settingsHash } from './lifecycle';
import { poolFromConfig, poolOptions, reportBinary, type PoolConfigDef } from './pool-config';
import type { PoolHandle } from './pool-handle';
import type { Node, NodeDef, NodeRedRuntime } from './red-types';

type ProcessPoolDef = NodeDef & PoolConfigDef;

export interface ProcessPoolNode extends Node, PoolHandle {
  pool: ProcessPool;
  users: Record<string, Node>;
}

module.exports = function register(RED: NodeRedRuntime): void {
  function ProcessPoolConfig(this: ProcessPoolNode, def: ProcessPoolDef): void {
    RED.nodes.createNode(this, def);
    const lifecycle = lifecycleOf(RED);
    const options = poolOptions(def);
    // A redeploy with the same FFmpeg keeps the running processes (other settings apply to new processes).
    const key = `pool:${this.id}`;
    const hash = settingsHash({ ffmpegPath: options.ffmpegPath ?? '' });
    const adopted = lifecycle.take<ProcessPool>(key, hash);
    const pool = adopted ?? poolFromConfig(def);
    if (adopted) pool.configure(options);
    this.pool = pool;
    this.users = {};
    lifecycle.addPool(pool);
    const unreport = reportBinary(pool, (m) => this.log(m), (m) => this.error(m));
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
          this.error(err.message);
          done();
        });
        return;
      }
      lifecycle.park(key, hash, pool, () => pool.close());
      done();
    });
  }
  RED.nodes.registerType('glimpser-process-pool', ProcessPoolConfig);
};

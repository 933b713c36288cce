import type { ProcessPool } from '../core/pool';
import type { Node, NodeDef, NodeRedRuntime } from './red-types';
import { poolFromConfig, reportBinary, type PoolConfigDef } from './pool-config';

type ProcessPoolDef = NodeDef & PoolConfigDef;

export interface ProcessPoolNode extends Node {
  pool: ProcessPool;
  /** Named `users` like Node-RED's mqtt-broker: the runtime routes a config node's status to its users' flows. */
  users: Record<string, Node>;
  register(node: Node): void;
  deregister(node: Node): void;
}

module.exports = function register(RED: NodeRedRuntime): void {
  function ProcessPoolConfig(this: ProcessPoolNode, def: ProcessPoolDef): void {
    RED.nodes.createNode(this, def);
    const pool = poolFromConfig(def);
    this.pool = pool;
    this.users = {};
    reportBinary(pool, (m) => this.log(m), (m) => this.error(m));
    this.register = (node) => {
      this.users[node.id] = node;
    };
    this.deregister = (node) => {
      delete this.users[node.id];
    };
    this.on('close', (_removed: boolean, done: () => void) => {
      pool.close().then(done, (err: Error) => {
        this.error(err.message);
        done();
      });
    });
  }
  RED.nodes.registerType('glimpser-process-pool', ProcessPoolConfig);
};

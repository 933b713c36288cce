/**
 * The slice of Node-RED's runtime API our nodes use. Node-RED ships no TypeScript types of its own and
 * @types/node-red lags behind 4.x, so we declare what we call and nothing more.
 */
import type { EventEmitter } from 'node:events';

export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

export interface NodeMessage {
  _msgid?: string;
  topic?: string;
  payload?: unknown;
  [key: string]: unknown;
}

export type SendFn = (msg: NodeMessage | NodeMessage[] | null | (NodeMessage | NodeMessage[] | null)[]) => void;
export type DoneFn = (err?: Error) => void;

export interface NodeDef {
  id: string;
  type: string;
  name?: string;
  z?: string;
  wires?: string[][];
  [key: string]: unknown;
}

export interface Node<Creds = Record<string, string | undefined>> extends EventEmitter {
  id: string;
  type: string;
  name?: string;
  z?: string;
  credentials: Creds;
  status(status: NodeStatus): void;
  send: SendFn;
  log(msg: unknown): void;
  warn(msg: unknown): void;
  error(msg: unknown, srcMsg?: NodeMessage): void;
  debug(msg: unknown): void;
  /** Hands `msg` to this node's input, as a wire would. */
  receive(msg: NodeMessage): void;
  on(event: 'input', handler: (msg: NodeMessage, send: SendFn, done: DoneFn) => void): this;
  on(event: 'close', handler: (removed: boolean, done: () => void) => void): this;
  on(event: string, handler: (...args: any[]) => void): this;
}

export interface NodeRedRuntime {
  nodes: {
    createNode(node: object, config: NodeDef): void;
    registerType(type: string, ctor: Function, opts?: { credentials?: Record<string, { type: 'text' | 'password' }>; settings?: object }): void;
    getNode(id: string): Node | null;
    eachNode(cb: (def: NodeDef) => void): void;
  };
  settings: Record<string, any>;
  httpNode: any;
  httpAdmin: any;
  auth: { needsPermission(permission: string): any };
  /** The runtime's event bus ('flows:started', 'flows:stopping', …). */
  events: { on(event: string, listener: (...args: any[]) => void): unknown; off(event: string, listener: (...args: any[]) => void): unknown };
  _: (key: string, substitutions?: Record<string, unknown>) => string;
  log: { info(msg: unknown): void; warn(msg: unknown): void; error(msg: unknown): void; debug(msg: unknown): void };
}

import { EndpointDirectory } from '../core/page/endpoint-directory';
import type { ProcessPool } from '../core/stream/pool';
import type { NodeRedRuntime } from './red-types';

interface Parked {
  hash: string;
  value: unknown;
  dispose: () => unknown;
}

/** After a deploy's stop, flows normally start within a second; past this, parked things are let go anyway. */
const SETTLE_TIMEOUT_MS = 30_000;

/**
 * Node-RED recreates every node on a full deploy: each is closed, then a new one is built with the same id. What
 * must outlive an unchanged node (a pool's processes, an endpoint's open connections, a motion event under way) is
 * parked here by the closing node under its id and a hash of its settings, and taken over by its successor. When
 * the flows have started, whatever nobody took over is disposed of and every pool drops the users that did not come
 * back. When the runtime stops for good, nothing is parked: nodes stop what they own at once.
 */
export class Lifecycle {
  /** Every mjpeg-out endpoint of the runtime, for the viewer page (a parked endpoint stays listed). */
  readonly endpoints = new EndpointDirectory();
  private readonly parked = new Map<string, Parked>();
  private readonly livePools = new Set<ProcessPool>();
  private lastStarted: unknown;
  private stoppingForGood = false;
  private settleTimer: NodeJS.Timeout | undefined;
  private startedTasks: (() => void)[] = [];

  constructor(events: NodeRedRuntime['events']) {
    events.on('flows:started', (ev: { config?: unknown }) => {
      this.lastStarted = ev?.config;
      this.stoppingForGood = false;
      this.settle();
      const tasks = this.startedTasks;
      this.startedTasks = [];
      for (const task of tasks) task();
    });
    events.on('flows:stopping', (ev: { config?: unknown }) => {
      // A deploy stops the old flows with the new configuration already in place (a new object); a shutdown, or the
      // editor's "stop flows", stops them with the configuration they started with.
      this.stoppingForGood = ev?.config !== undefined && ev.config === this.lastStarted;
    });
  }

  /** True while the runtime stops with no new flows to follow: close everything, park nothing. */
  get stopping(): boolean {
    return this.stoppingForGood;
  }

  /** Runs `task` once the flows being deployed have started (every node of them built); never when stopping for good. */
  afterStart(task: () => void): void {
    if (!this.stoppingForGood) this.startedTasks.push(task);
  }

  /** Every pool of the runtime (config nodes and the default pool), for health and metrics. */
  pools(): ProcessPool[] {
    return [...this.livePools];
  }

  addPool(pool: ProcessPool): void {
    this.livePools.add(pool);
  }

  removePool(pool: ProcessPool): void {
    this.livePools.delete(pool);
  }

  /** Keeps `value` for a successor with the same key and settings hash; `dispose` runs if none comes. */
  park(key: string, hash: string, value: unknown, dispose: () => unknown): void {
    const prior = this.parked.get(key);
    if (prior) void prior.dispose();
    this.parked.set(key, { hash, value, dispose });
    this.settleTimer ??= setTimeout(() => {
      this.settleTimer = undefined;
      this.disposeParked();
    }, SETTLE_TIMEOUT_MS);
  }

  /** The parked value for this key if its settings are the same; a parked value with other settings is disposed. */
  take<T>(key: string, hash: string): T | undefined {
    const p = this.parked.get(key);
    if (!p) return undefined;
    this.parked.delete(key);
    if (p.hash === hash) return p.value as T;
    void p.dispose();
    return undefined;
  }

  /** Parked keys (for tests and diagnostics). */
  parkedKeys(): string[] {
    return [...this.parked.keys()];
  }

  private settle(): void {
    this.disposeParked();
    for (const pool of this.livePools) pool.settle();
  }

  private disposeParked(): void {
    clearTimeout(this.settleTimer);
    this.settleTimer = undefined;
    const all = [...this.parked.values()];
    this.parked.clear();
    for (const p of all) void p.dispose();
  }
}

/** One lifecycle per runtime: its events emitter identifies it (the test helper makes a new runtime per load). */
const lifecycles = new WeakMap<object, Lifecycle>();

export function lifecycleOf(RED: NodeRedRuntime): Lifecycle {
  let lc = lifecycles.get(RED.events);
  if (!lc) {
    lc = new Lifecycle(RED.events);
    lifecycles.set(RED.events, lc);
  }
  return lc;
}

/** A stable hash of settings, for park/take: any difference means the successor starts afresh. */
export function settingsHash(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}

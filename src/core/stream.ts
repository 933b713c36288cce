import { EventEmitter } from 'node:events';
import type { Capture, CapturedFrame } from './capture';
import { boxKey, sourceSignature, type Box, type CaptureOptions } from './ffmpeg-args';
import type { FfmpegBinary } from './ffmpeg-binary';
import { DETECT_BUCKETS_MS, Histogram, LATENCY_BUCKETS_MS } from './histogram';
import type { Frame, GrayFrame, StreamState } from './types';

/** What a source node says a stream is. Outputs (gray sizes, the JPEG rate) come from the users' demand. */
export interface StreamDefinition {
  /** Source and JPEG settings of the main process. Its `gray`, `jpeg` and `jpegEvery` are ignored. */
  capture: CaptureOptions;
  /**
   * JPEG rate while nobody needs every frame, so stills, Home Assistant's thumbnails and motion snapshots always
   * have a recent picture. 0, or at least the stream's rate: every frame is always encoded.
   */
  lowFps: number;
  /** A second source for motion only (a camera's sub-stream): the gray frames come from it, the JPEG from `capture`. */
  detect?: CaptureOptions;
}

/** What one user of a stream needs now. */
export interface Demand {
  /** Keep the stream running (an always-on source, a pending still or snapshot). */
  run?: boolean;
  /** While the stream runs: JPEG at every frame (viewers, flows that consume frames) or at the low rate. */
  jpeg?: 'full' | 'low';
  /** Gray frames fitting this box (a motion-detect node). Implies running. */
  gray?: Box;
}

/** Counters a user keeps where they happen (viewers in mjpeg-out, detection time in motion-detect). */
export interface UserCounters {
  viewers?: number;
  droppedFrames?: number;
  latency?: Histogram;
  detectMs?: Histogram;
}

export interface StreamFrame {
  /** Monotonic per stream, across process restarts and output changes. */
  readonly seq: number;
  readonly time: number;
  /** The JPEG of this frame, when one was encoded (every frame, or every n-th at the low rate). */
  readonly jpeg: Buffer | undefined;
  /** Gray frames by box key ("240x180"), one per size that motion users asked for. */
  readonly gray: Readonly<Record<string, GrayFrame>>;
}

export interface StateChange {
  readonly state: StreamState;
  readonly previous: StreamState;
  readonly reason: string | undefined;
  /** Consecutive failed starts behind this state (0 when healthy). */
  readonly retries: number;
  readonly time: number;
}

export interface StreamSnapshot extends StateChange {
  name: string;
  source: string | undefined;
  /** Frame sets delivered per second over the last few seconds. */
  fps: number;
  expectedFps: number;
  frames: number;
  jpegFrames: number;
  bytes: number;
  restarts: number;
  viewers: number;
  droppedFrames: number;
  latency: Histogram;
  detectMs: Histogram;
  lastFrameAt: number | undefined;
  pids: number[];
  ffmpeg: Pick<FfmpegBinary, 'path' | 'version' | 'origin'> | undefined;
  outputs: { jpegEvery: number; gray: string[]; detect: boolean };
  acceleration: string;
  fallbackReason: string | undefined;
}

export interface StreamLease {
  readonly key: string;
  readonly capture: Capture;
  /** Gives the process back; resolves once it has stopped, or at once when others still use it. */
  release(immediate?: boolean): Promise<void>;
}

/** The pool's process table as a stream sees it: processes shared by signature. */
export interface ProcessSource {
  acquireCapture(capture: CaptureOptions, after?: Promise<unknown>): StreamLease;
  readonly idleGraceMs: number;
}

export class StreamConflictError extends Error {
  override readonly name = 'StreamConflictError';
}

export type ReleaseMode = 'now' | 'grace' | 'handover';

type Role = 'main' | 'detect';
interface Slot {
  active?: StreamLease;
  /** A successor with other outputs: it takes over with its first frame (make before break). */
  next?: StreamLease;
}
interface User {
  demand: Demand;
  parked: boolean;
  counters?: () => UserCounters;
}
interface Owner {
  def: StreamDefinition;
  base: string;
  parked: boolean;
}
interface Plan {
  main?: CaptureOptions;
  detect?: CaptureOptions;
}

const PRODUCING: ReadonlySet<StreamState> = new Set(['healthy', 'degraded']);

/** The source settings without the outputs: two captures with the same base read the same pictures. */
function baseSignature(capture: CaptureOptions): string {
  return sourceSignature({ ...capture, gray: undefined, jpeg: true, jpegEvery: 1 });
}

function boxesOf(capture: CaptureOptions | undefined): string[] {
  const g = capture?.gray;
  const list = g === undefined ? [] : Array.isArray(g) ? (g as readonly Box[]) : [g as Box];
  return list.map(boxKey);
}

/** A process with `have`'s outputs also serves `want` (it makes at least every frame and gray size `want` needs). */
function covers(have: CaptureOptions, want: CaptureOptions): boolean {
  if (baseSignature(have) !== baseSignature(want)) return false;
  const haveJpeg = have.jpeg !== false;
  const wantJpeg = want.jpeg !== false;
  if (wantJpeg && !haveJpeg) return false;
  const he = have.jpegEvery ?? 1;
  if (wantJpeg && he !== 1 && he !== (want.jpegEvery ?? 1)) return false;
  const hb = new Set(boxesOf(have));
  return boxesOf(want).every((b) => hb.has(b));
}

/**
 * One named stream, owned by its pool: the source's definition, its users and their demand, the processes that
 * serve that demand, its state and its counters. A frame's way: process → `frame` event here → the source node's
 * wire → consumers. Users (mjpeg-out, motion-detect, a snapshot) say what they need; the stream runs the processes
 * whose outputs cover it, switching outputs without a gap: a successor runs beside the old process until its first
 * frame, then the old one goes.
 */
export class Stream extends EventEmitter<{ state: [change: StateChange]; frame: [frame: StreamFrame] }> {
  private readonly owners = new Map<string, Owner>();
  private readonly users = new Map<string, User>();
  private readonly slots: Record<Role, Slot> = { main: {}, detect: {} };
  private readonly detachers = new Map<StreamLease, () => void>();
  private current: StateChange = { state: 'idle', previous: 'idle', reason: undefined, retries: 0, time: Date.now() };
  private seq = 0;
  private latestJpeg: Frame | undefined;
  private lastFrameAt: number | undefined;
  private frames = 0;
  private jpegFrames = 0;
  private bytes = 0;
  private restarts = 0;
  private downgradeTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The acceleration in use and why it fell back, set by whoever builds the capture arguments. */
  acceleration = 'software';
  fallbackReason: string | undefined;

  constructor(
    readonly name: string,
    private readonly processes: ProcessSource,
  ) {
    super();
  }

  get state(): StreamState {
    return this.current.state;
  }

  get stateInfo(): StateChange {
    return this.current;
  }

  /** The definition in force, if a source defines this stream. */
  get definition(): StreamDefinition | undefined {
    return this.owners.values().next().value?.def;
  }

  get lastError(): string | undefined {
    return this.current.state === 'recovering' || this.current.state === 'failed' ? this.current.reason : undefined;
  }

  /** The newest JPEG, if the stream has made one since it last started. */
  latest(): Frame | undefined {
    return this.latestJpeg;
  }

  /** Users (not parked), for tests and diagnostics. */
  userIds(): string[] {
    return [...this.users.entries()].filter(([, u]) => !u.parked).map(([id]) => id);
  }

  /** True when nothing refers to the stream any more: no definition, no user, no process. */
  get unused(): boolean {
    return this.owners.size === 0 && this.users.size === 0 && !this.slots.main.active && !this.slots.detect.active;
  }

  /**
   * A source node defines the stream. A second source with other settings is refused (StreamConflictError);
   * the same settings again (a redeploy taking over) change nothing, so the running process stays.
   */
  define(ownerId: string, def: StreamDefinition): void {
    const base = baseSignature(def.capture) + (def.detect ? `|detect:${baseSignature(def.detect)}` : '');
    for (const [id, o] of this.owners) {
      if (id !== ownerId && !o.parked && o.base !== base) {
        throw new StreamConflictError(`stream "${this.name}" is already defined by another source with other settings; give this source another stream name`);
      }
    }
    // A parked definition from before a deploy gives way to the new one.
    for (const [id, o] of this.owners) if (id !== ownerId && o.parked) this.owners.delete(id);
    this.owners.set(ownerId, { def, base, parked: false });
    this.apply('grace');
  }

  undefine(ownerId: string, mode: ReleaseMode): void {
    const owner = this.owners.get(ownerId);
    if (!owner) return;
    if (mode === 'handover') {
      owner.parked = true;
      return;
    }
    this.owners.delete(ownerId);
    this.apply(mode);
  }

  /** Registers a user or changes its demand (idempotent per id; a parked user from before a deploy is taken over). */
  use(userId: string, demand: Demand, counters?: () => UserCounters): void {
    const prior = this.users.get(userId);
    this.users.set(userId, { demand, parked: false, counters: counters ?? prior?.counters });
    this.apply('grace');
  }

  /**
   * The user leaves. `now`: its demand goes at once (a removed node); `grace`: the process may idle a while;
   * `handover`: nothing changes until settle(), so a redeployed node with the same id finds everything running.
   */
  unuse(userId: string, mode: ReleaseMode): void {
    const user = this.users.get(userId);
    if (!user) return;
    if (mode === 'handover') {
      user.parked = true;
      return;
    }
    this.users.delete(userId);
    this.apply(mode);
  }

  /**
   * The deploy is over: what was parked and not taken over goes, at once (its node was changed or removed; nobody
   * is coming back for it, so no idle grace).
   */
  settle(): void {
    let changed = false;
    for (const [id, u] of this.users) if (u.parked) changed = this.users.delete(id) || changed;
    for (const [id, o] of this.owners) if (o.parked) changed = this.owners.delete(id) || changed;
    if (changed) this.apply('now');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.downgradeTimer);
    const done: Promise<void>[] = [];
    for (const slot of Object.values(this.slots)) {
      if (slot.next) done.push(this.retire(slot.next, true));
      if (slot.active) done.push(this.retire(slot.active, true));
      slot.next = slot.active = undefined;
    }
    this.latestJpeg = undefined;
    this.updateState();
    await Promise.all(done);
  }

  snapshot(): StreamSnapshot {
    const main = this.slots.main.active?.capture;
    const latency = new Histogram(LATENCY_BUCKETS_MS);
    const detectMs = new Histogram(DETECT_BUCKETS_MS);
    let viewers = 0;
    let droppedFrames = 0;
    for (const u of this.users.values()) {
      const c = u.counters?.();
      if (!c) continue;
      viewers += c.viewers ?? 0;
      droppedFrames += c.droppedFrames ?? 0;
      if (c.latency) latency.add(c.latency);
      if (c.detectMs) detectMs.add(c.detectMs);
    }
    const pids: number[] = [];
    for (const slot of Object.values(this.slots)) {
      const pid = slot.active?.capture.stats().pid;
      if (pid !== undefined) pids.push(pid);
    }
    const def = this.definition;
    const binary = main?.binary;
    const { state, previous, reason, retries, time } = this.current;
    // Spelled out: a spread into a literal this large takes V8's slow path (35 µs a snapshot instead of under 1).
    return {
      state,
      previous,
      reason,
      retries,
      time,
      name: this.name,
      source: main?.description,
      fps: main?.stats().fps ?? 0,
      expectedFps: def?.capture.fps ?? 0,
      frames: this.frames,
      jpegFrames: this.jpegFrames,
      bytes: this.bytes,
      restarts: this.restarts,
      viewers,
      droppedFrames,
      latency,
      detectMs,
      lastFrameAt: this.lastFrameAt,
      pids,
      ffmpeg: binary ? { path: binary.path, version: binary.version, origin: binary.origin } : undefined,
      outputs: { jpegEvery: main?.jpegEvery ?? 0, gray: (main ?? this.slots.detect.active?.capture)?.boxes.map(boxKey) ?? [], detect: !!this.slots.detect.active },
      acceleration: this.acceleration,
      fallbackReason: this.fallbackReason,
    };
  }

  // --- demand to processes -----------------------------------------------------------------------

  private plan(): Plan {
    const owner = [...this.owners.values()].find((o) => !o.parked) ?? this.owners.values().next().value;
    if (!owner || this.stopped) return {};
    let run = false;
    let full = false;
    const grays = new Map<string, Box>();
    for (const u of this.users.values()) {
      const d = u.demand;
      if (d.run || d.gray) run = true;
      if (d.jpeg === 'full') full = true;
      if (d.gray) grays.set(boxKey(d.gray), d.gray);
    }
    if (!run) return {};
    const { capture, lowFps, detect } = owner.def;
    const every = full || !(lowFps > 0) || lowFps >= capture.fps ? 1 : Math.max(1, Math.round(capture.fps / lowFps));
    const gray = [...grays.values()];
    if (detect && gray.length > 0) {
      return {
        main: { ...capture, gray: undefined, jpeg: true, jpegEvery: every },
        detect: { ...detect, fps: detect.fps || capture.fps, gray, jpeg: false, jpegEvery: 1 },
      };
    }
    return { main: { ...capture, gray: gray.length ? gray : undefined, jpeg: true, jpegEvery: every } };
  }

  /**
   * Brings the processes in line with the plan. More outputs start at once; fewer wait for the idle grace (a viewer
   * who reloads a page finds full rate still on), then the lighter process takes over.
   */
  private apply(mode: ReleaseMode): void {
    if (this.stopped) return;
    const plan = this.plan();
    let downgrade = false;
    for (const role of ['main', 'detect'] as const) {
      const want = plan[role];
      const slot = this.slots[role];
      const have = slot.next ?? slot.active;
      if (want && have && have.key !== sourceSignature(want) && covers(have.capture.options, want) && mode !== 'now') {
        downgrade = true;
        continue;
      }
      this.applyRole(role, want, mode);
    }
    clearTimeout(this.downgradeTimer);
    this.downgradeTimer = undefined;
    if (downgrade) {
      this.downgradeTimer = setTimeout(() => {
        this.downgradeTimer = undefined;
        this.apply('now');
      }, this.processes.idleGraceMs);
    }
    this.updateState();
  }

  private applyRole(role: Role, want: CaptureOptions | undefined, mode: ReleaseMode): void {
    const slot = this.slots[role];
    if (!want) {
      if (slot.next) void this.retire(slot.next, true);
      if (slot.active) void this.retire(slot.active, mode === 'now');
      slot.next = slot.active = undefined;
      return;
    }
    const key = sourceSignature(want);
    if (slot.next?.key === key) return;
    if (slot.active?.key === key) {
      if (slot.next) void this.retire(slot.next, true);
      slot.next = undefined;
      return;
    }
    if (slot.next) void this.retire(slot.next, true);
    slot.next = undefined;
    const old = slot.active;
    if (old && baseSignature(old.capture.options) === baseSignature(want) && PRODUCING.has(old.capture.state)) {
      // Same pictures, other outputs: the successor runs beside the old process until its first frame.
      slot.next = this.attach(role, this.processes.acquireCapture(want));
      return;
    }
    // Another source (or nothing flowing yet): the old process goes first, so a camera is never opened twice.
    slot.active = this.attach(role, this.processes.acquireCapture(want, old ? this.retire(old, true) : undefined));
  }

  private attach(role: Role, lease: StreamLease): StreamLease {
    const capture = lease.capture;
    let spawns = 0;
    const onFrame = (f: CapturedFrame): void => this.onFrame(role, lease, f);
    const onState = (): void => {
      if (this.slots[role].active === lease) this.updateState();
    };
    const onSpawn = (): void => {
      if (spawns++ > 0) this.restarts++;
    };
    capture.on('frame', onFrame);
    capture.on('state', onState);
    capture.on('spawn', onSpawn);
    this.detachers.set(lease, () => {
      capture.off('frame', onFrame);
      capture.off('state', onState);
      capture.off('spawn', onSpawn);
    });
    return lease;
  }

  private retire(lease: StreamLease, immediate: boolean): Promise<void> {
    this.detachers.get(lease)?.();
    this.detachers.delete(lease);
    return lease.release(immediate);
  }

  private onFrame(role: Role, lease: StreamLease, f: CapturedFrame): void {
    const slot = this.slots[role];
    if (lease === slot.next) {
      const old = slot.active;
      slot.active = lease;
      slot.next = undefined;
      if (old) void this.retire(old, true);
      this.updateState();
    }
    if (lease !== slot.active) return;
    const boxes = lease.capture.boxes;
    const gray: Record<string, GrayFrame> = {};
    let bytes = f.jpeg?.length ?? 0;
    const seq = ++this.seq;
    for (let i = 0; i < boxes.length; i++) {
      const g = f.gray[i];
      if (!g) continue;
      gray[boxKey(boxes[i]!)] = { data: g.data, width: g.width, height: g.height, seq, time: f.time };
      bytes += g.data.length;
    }
    this.frames++;
    this.bytes += bytes;
    this.lastFrameAt = f.time;
    if (f.jpeg) {
      this.jpegFrames++;
      this.latestJpeg = { data: f.jpeg, seq, time: f.time };
    }
    this.emit('frame', { seq, time: f.time, jpeg: f.jpeg, gray });
  }

  // --- state ------------------------------------------------------------------------------------------

  private updateState(): void {
    const main = this.slots.main.active?.capture;
    const detect = this.slots.detect.active?.capture;
    let state: StreamState = main?.state ?? 'idle';
    let reason: string | undefined;
    let retries = 0;
    if (main) {
      retries = main.stats().retries;
      if (state !== 'healthy') reason = main.reason;
    } else if (this.owners.size === 0 && this.users.size > 0) {
      reason = 'no source node defines this stream';
    }
    if (state === 'healthy' && detect && !PRODUCING.has(detect.state) && detect.state !== 'starting') {
      state = 'degraded';
      reason = `detect source ${detect.state}${detect.stats().lastError ? `: ${detect.stats().lastError}` : ''}`;
    } else if (state === 'healthy' && this.fallbackReason) {
      state = 'degraded';
      reason = this.fallbackReason;
    }
    if (state === this.current.state && reason === this.current.reason) return;
    this.current = { state, previous: this.current.state, reason, retries, time: Date.now() };
    // A stopped stream's last picture is history: a still request starts it again instead of serving that.
    if (state === 'idle') this.latestJpeg = undefined;
    this.emit('state', this.current);
  }
}

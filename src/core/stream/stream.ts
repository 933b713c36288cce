import { EventEmitter } from 'node:events';
import type { CaptureExit, CapturedFrame } from '../capture/capture';
import { baseSignature, sourceSignature } from './signature';
import { boxKey, type CaptureOptions } from '../ffmpeg/options';
import type { Frame, StreamState } from '../types';
import { StreamAccel } from './accel';
import { CameraAccess } from './camera-access';
import { sumCounters } from './counters';
import { streamFrame } from './frame';
import { streamState } from './state';
import { covers, planProcesses, type ProcessPlan } from './demand-plan';
import {
  StreamConflictError, type AccelProvider, type Demand, type ProcessSource, type ReleaseMode, type StateChange,
  type StreamDefinition, type StreamFrame, type StreamLease, type StreamSnapshot, type UserCounters,
} from './model';

// The stream's vocabulary lives in model.ts; users of a stream find it here too.
export { StreamConflictError } from './model';
export type { AccelProvider, Demand, ProcessSource, ReleaseMode, StateChange, StreamDefinition, StreamFrame, StreamLease, StreamSnapshot, UserCounters, ViewerRefusal } from './model';

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

const PRODUCING: ReadonlySet<StreamState> = new Set(['healthy', 'degraded']);

/**
 * One named stream, owned by its pool: the source's definition, its users and their demand, the processes that
 * serve that demand, its state and its counters. A frame's way: process → `frame` event here → the source node's
 * wire → consumers. Users (mjpeg-out, motion-detect, a snapshot) say what they need; the stream runs the processes
 * whose outputs cover it, switching outputs without a gap: a successor runs beside the old process until its first
 * frame, then the old one goes.
 */
export interface StreamEvents {
  state: [change: StateChange];
  frame: [frame: StreamFrame];
  motion: [active: boolean];
  /** Something the user should know about how the camera is read (logged once by the source node). */
  note: [level: 'info' | 'warn', text: string];
}

export class Stream extends EventEmitter<StreamEvents> {
  private readonly owners = new Map<string, Owner>();
  private readonly access = new CameraAccess();
  /** Sources whose settings were refused, with why: while no source defines the stream, it is failed with that. */
  private readonly refusals = new Map<string, string>();
  /** A deploy has finished since the stream was made: a stream still without a source is then misconfigured. */
  private settled = false;
  /** Motion users and whether each sees motion now. */
  private readonly motionBy = new Map<string, boolean>();
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
  private recycles = 0;
  private downgradeTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** A capture that could not even be built (bad options): the stream is failed with this until redefined. */
  private failure: string | undefined;
  /** Hardware decoding of the definition in force, if it asks for it. */
  private accel: StreamAccel | undefined;

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

  /** Whether any motion user sees motion now; undefined when nobody watches this stream for motion. */
  get motion(): boolean | undefined {
    return this.motionBy.size === 0 ? undefined : [...this.motionBy.values()].some(Boolean);
  }

  /** A motion user's verdict changed (motion-aware viewers follow it). */
  reportMotion(userId: string, active: boolean): void {
    const before = this.motion;
    this.motionBy.set(userId, active);
    if (this.motion !== before) this.emit('motion', this.motion === true);
  }

  /** Users (not parked), for tests and diagnostics. */
  userIds(): string[] {
    return [...this.users.entries()].filter(([, u]) => !u.parked).map(([id]) => id);
  }

  /** True when nothing refers to the stream any more: no definition, no user, no process. */
  get unused(): boolean {
    return this.owners.size === 0 && this.refusals.size === 0 && this.users.size === 0 && !this.slots.main.active && !this.slots.detect.active;
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
    this.failure = undefined;
    this.setupAccel(def.accel);
    this.apply('grace');
  }

  /**
   * A source node for this stream whose settings were refused: it defines nothing, and until a source defines the
   * stream its users see it failed with this reason (a misconfigured camera is not idle).
   */
  refuse(ownerId: string, reason: string): void {
    this.refusals.set(ownerId, reason);
    this.updateState();
  }

  undefine(ownerId: string, mode: ReleaseMode): void {
    if (this.refusals.delete(ownerId)) this.updateState();
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
    this.forgetMotion([userId]);
    this.apply(mode);
  }

  /** Motion verdicts of users that left; the stream's motion state follows. */
  private forgetMotion(ids: string[]): void {
    const before = this.motion;
    for (const id of ids) this.motionBy.delete(id);
    const after = this.motion;
    if (after !== before && after !== undefined) this.emit('motion', after);
  }

  /**
   * The deploy is over: what was parked and not taken over goes, at once (its node was changed or removed; nobody
   * is coming back for it, so no idle grace).
   */
  settle(): void {
    this.settled = true;
    const gone = [...this.users].filter(([, u]) => u.parked).map(([id]) => id);
    for (const id of gone) this.users.delete(id);
    this.forgetMotion(gone);
    let changed = gone.length > 0;
    for (const [id, o] of this.owners) if (o.parked) changed = this.owners.delete(id) || changed;
    if (changed) this.apply('now');
    else this.updateState();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.downgradeTimer);
    this.accel?.dispose();
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
    const main = this.slots.main.active?.capture ?? this.slots.detect.active?.capture;
    const { viewers, droppedFrames, viewersRefused, latency, detectMs } = sumCounters([...this.users.values()].map((u) => u.counters));
    const stats = main?.stats();
    const pids = Object.values(this.slots).flatMap((slot) => slot.active?.capture.stats().pid ?? []);
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
      fps: stats?.fps ?? 0,
      sourceFps: stats?.sourceFps,
      expectedFps: def?.capture.fps ?? 0,
      frames: this.frames,
      jpegFrames: this.jpegFrames,
      bytes: this.bytes,
      restarts: this.restarts,
      recycles: this.recycles,
      viewers,
      droppedFrames,
      viewersRefused,
      latency,
      detectMs,
      lastFrameAt: this.lastFrameAt,
      pids,
      ffmpeg: binary ? { path: binary.path, version: binary.version, origin: binary.origin } : undefined,
      outputs: { jpegEvery: main?.jpegEvery ?? 0, gray: (main ?? this.slots.detect.active?.capture)?.boxes.map(boxKey) ?? [], detect: !!this.slots.detect.active },
      acceleration: main?.options.plan?.label ?? (main?.options.passthrough ? 'pass-through (no decoding)' : 'software'),
      fallbackReason: this.accel?.fallback?.reason,
    };
  }

  /** The source node whose settings the stream runs on: the one deployed now, not one parked by a redeploy. */
  private liveOwner(): Owner | undefined {
    return [...this.owners.values()].find((o) => !o.parked);
  }

  // --- hardware decoding ---------------------------------------------------------------------------

  private setupAccel(provider: AccelProvider | undefined): void {
    if (this.accel && provider && this.accel.key === provider.key) {
      this.accel.redeployed(provider);
      return;
    }
    this.accel?.dispose();
    this.accel = provider ? new StreamAccel(provider, (mode) => this.apply(mode)) : undefined;
  }

  private onExit(role: Role, lease: StreamLease, exit: CaptureExit): void {
    if (lease === this.slots[role].next && !exit.stopRequested && this.refusedSecond(role, lease, exit)) return;
    const owner = this.liveOwner();
    if (role === 'main' && owner && !exit.stopRequested && this.access.multipartRefused(owner.def, owner.base, exit.stderrTail)) {
      this.emit('note', 'info', 'FFmpeg\'s multipart reader gave up on this camera\'s stream: FFmpeg reads its JPEGs by their markers from now on');
      this.apply('now');
      return;
    }
    if (role === 'main' && lease.capture.options.plan) this.accel?.exited(exit);
  }

  /**
   * A successor started beside a producing process for other outputs (make before break) ended before its first
   * frame: a camera that serves one client at a time (an ESP32-CAM, FFmpeg's -listen server) refused the second
   * connection. From now on this camera switches outputs by reconnecting (break before make, a moment of
   * placeholder); it says so once. Returns whether that was it.
   */
  private refusedSecond(role: Role, lease: StreamLease, exit: CaptureExit): boolean {
    const slot = this.slots[role];
    const active = slot.active;
    const owner = this.liveOwner();
    if (!owner || !active || !PRODUCING.has(active.capture.state) || lease.capture.stats().upSince !== undefined) return false;
    if (!this.access.refusedSecond(owner.base, lease.capture.options, active.capture.options)) return false;
    this.emit('note', 'warn', `the camera refused a second connection (${exit.verdict.reason}): it serves one client at a time, so its outputs now change by reconnecting`);
    slot.next = undefined;
    void this.retire(lease, true);
    this.apply('now');
    return true;
  }

  // --- demand to processes -----------------------------------------------------------------------

  private plan(): ProcessPlan {
    const owner = this.liveOwner() ?? this.owners.values().next().value;
    if (!owner || this.stopped) return {};
    const demands = [...this.users.values()].map((u) => u.demand);
    return planProcesses({ def: this.access.howRead(owner.def, owner.base), demands, hwPlan: this.accel?.activePlan, accelPending: this.accel?.pending });
  }

  /**
   * Our own client heard what the camera answers (MJPEG, or `reason` why not): when that changes how it is read
   * (auto: not MJPEG; FFmpeg mode: its first answer), the processes follow at once.
   */
  private onAnswer(mjpeg: boolean, reason?: string): void {
    const owner = this.liveOwner();
    if (!owner || !this.access.answered(owner.def, owner.base, mjpeg)) return;
    if (!mjpeg && owner.def.read === 'auto') {
      this.emit('note', 'info', `${(reason ?? '').replace(/: use the camera's MJPEG stream URL, or read it through FFmpeg/, '')}: reading it with FFmpeg`);
    }
    this.apply('now');
  }

  /**
   * Brings the processes in line with the plan. More outputs start at once; fewer wait for the idle grace (a viewer
   * who reloads a page finds full rate still on), then the lighter process takes over.
   */
  private apply(mode: ReleaseMode): void {
    if (this.stopped) return;
    const plan = this.plan();
    let downgrade = false;
    // A camera that serves one client changes outputs only by reconnecting (a second or so of placeholder): while its
    // process still covers what is needed, it keeps its outputs rather than pay that for fewer.
    const oneClient = !this.access.allowsTwo(this.liveOwner()?.base);
    for (const role of ['main', 'detect'] as const) {
      const want = plan[role];
      const slot = this.slots[role];
      const have = slot.next ?? slot.active;
      if (want && have && have.key !== sourceSignature(want) && covers(have.capture.options, want) && (mode !== 'now' || oneClient)) {
        if (!oneClient) downgrade = true;
        continue;
      }
      try {
        this.applyRole(role, want, mode);
      } catch (err) {
        // Options no process can be built from (a bad URL, say): the stream says so instead of throwing at a user.
        this.failure = (err as Error).message;
      }
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
    const owner = this.liveOwner();
    if (old && this.access.allowsTwo(owner?.base) && baseSignature(old.capture.options) === baseSignature(want) && PRODUCING.has(old.capture.state)) {
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
    const onExit = (exit: CaptureExit): void => this.onExit(role, lease, exit);
    const onRecycle = (): void => {
      this.recycles++;
    };
    const onUnsupported = (reason: string): void => {
      if (role === 'main' && this.slots.main.active === lease) this.onAnswer(false, reason);
    };
    const onMjpeg = (): void => {
      if (role === 'main' && this.slots.main.active === lease) this.onAnswer(true);
    };
    capture.on('frame', onFrame);
    capture.on('state', onState);
    capture.on('spawn', onSpawn);
    capture.on('exit', onExit);
    capture.on('unsupported', onUnsupported);
    capture.on('mjpeg', onMjpeg);
    capture.on('recycle', onRecycle);
    this.detachers.set(lease, () => {
      capture.off('frame', onFrame);
      capture.off('state', onState);
      capture.off('spawn', onSpawn);
      capture.off('exit', onExit);
      capture.off('unsupported', onUnsupported);
      capture.off('mjpeg', onMjpeg);
      capture.off('recycle', onRecycle);
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
    if (role === 'main' && this.accel && lease.capture.options.plan) {
      const up = lease.capture.stats().upSince;
      if (up !== undefined && this.accel.delivered(f.time - up)) this.updateState();
    }
    // The sub-stream's stills stand in only while the main stream makes no pictures.
    const mainCapture = this.slots.main.active?.capture;
    const jpeg = role === 'detect' && mainCapture && PRODUCING.has(mainCapture.state) ? undefined : f.jpeg;
    const { frame, bytes } = streamFrame(++this.seq, f, lease.capture, jpeg);
    this.frames++;
    this.bytes += bytes;
    this.lastFrameAt = f.time;
    if (jpeg) {
      this.jpegFrames++;
      this.latestJpeg = { data: jpeg, seq: frame.seq, time: f.time };
    }
    this.emit('frame', frame);
  }

  // --- state ------------------------------------------------------------------------------------------

  private updateState(): void {
    const { state, reason, retries } = streamState({
      main: this.slots.main.active?.capture,
      detect: this.slots.detect.active?.capture,
      failure: this.failure,
      undefinedStream: this.owners.size === 0
        ? { refusal: this.refusals.values().next().value, users: this.users.size > 0, deployed: this.settled }
        : undefined,
      fallbackReason: this.accel?.fallback?.reason,
    });
    if (state === this.current.state && reason === this.current.reason) return;
    this.current = { state, previous: this.current.state, reason, retries, time: Date.now() };
    // A stopped stream's last picture is history: a still request starts it again instead of serving that.
    if (state === 'idle') this.latestJpeg = undefined;
    this.emit('state', this.current);
  }
}

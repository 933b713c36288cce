import { EventEmitter } from 'node:events';
import type { CaptureExit, CaptureLike, CapturedFrame } from '../capture/capture';
import { baseSignature, boxKey, sourceSignature, type Box, type CaptureOptions } from '../ffmpeg/args';
import type { FfmpegBinary } from '../ffmpeg/binary';
import type { HwaccelFallback } from '../hwaccel/fallback';
import type { HwaccelPlan } from '../hwaccel/methods';
import { DETECT_BUCKETS_MS, Histogram, LATENCY_BUCKETS_MS } from '../util/histogram';
import type { Frame, GrayFrame, StreamState } from '../types';

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
  /** Hardware decoding for the main process, with a runtime fallback to software. */
  accel?: AccelProvider;
}

export interface AccelProvider {
  /** Equal keys mean the same settings: a redeployed source keeps the plan, the fallback state and the process. */
  readonly key: string;
  /** The plan to use (probing the pool's FFmpeg if it must) and a note when it is not what was asked for. */
  resolve(): Promise<{ plan: HwaccelPlan; note?: string }>;
  /** The runtime fallback policy for a stream decoding with `plan`. */
  fallback(plan: HwaccelPlan): HwaccelFallback;
}

/** What one user of a stream needs now. */
export interface Demand {
  /** Keep the stream running (an always-on source, a pending still or snapshot). */
  run?: boolean;
  /**
   * While the stream runs: JPEG at every frame (viewers, flows that consume frames), at the low rate, or at least at
   * this many frames per second (viewers that take fewer, motion-aware viewers while nothing moves).
   */
  jpeg?: 'full' | 'low' | number;
  /** Gray frames fitting this box (a motion-detect node). Implies running. */
  gray?: Box;
  /** A smaller JPEG of this width beside the main one (thumbnail viewers). */
  thumb?: number;
}

/** Counters a user keeps where they happen (viewers in mjpeg-out, detection time in motion-detect). */
export interface UserCounters {
  viewers?: number;
  droppedFrames?: number;
  latency?: Histogram;
  detectMs?: Histogram;
  /** Viewers refused (the stream full, or their address at its limit), counted by the endpoint that refused them. */
  viewersRefused?: Readonly<Record<ViewerRefusal, number>>;
}

/** Why a viewer was refused: the stream was full (503), or its address held its share (429). */
export type ViewerRefusal = 'full' | 'address';

export interface StreamFrame {
  /** Monotonic per stream, across process restarts and output changes. */
  readonly seq: number;
  readonly time: number;
  /** The JPEG of this frame, when one was encoded (every frame, or every n-th at the low rate). */
  readonly jpeg: Buffer | undefined;
  /** Gray frames by box key ("240x180"), one per size that motion users asked for. */
  readonly gray: Readonly<Record<string, GrayFrame>>;
  /** Thumbnail JPEGs by width ("320"), with the main JPEG, one per width that viewers asked for. */
  readonly thumbs?: Readonly<Record<string, Buffer>>;
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
  viewersRefused: Record<ViewerRefusal, number>;
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
  readonly capture: CaptureLike;
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
/** An accelerated process that has delivered frames this long is trusted: a fallback reason no longer applies. */
const STABLE_MS = 60_000;

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
  const we = want.jpegEvery ?? 1;
  // Every n-th frame covers every m-th when m is a multiple of n (the thinner rate is a subset).
  if (wantJpeg && we % he !== 0) return false;
  const hb = new Set(boxesOf(have));
  const ht = new Set(have.thumbs ?? []);
  return boxesOf(want).every((b) => hb.has(b)) && (want.thumbs ?? []).every((w) => ht.has(w));
}

/**
 * One named stream, owned by its pool: the source's definition, its users and their demand, the processes that
 * serve that demand, its state and its counters. A frame's way: process → `frame` event here → the source node's
 * wire → consumers. Users (mjpeg-out, motion-detect, a snapshot) say what they need; the stream runs the processes
 * whose outputs cover it, switching outputs without a gap: a successor runs beside the old process until its first
 * frame, then the old one goes.
 */
export class Stream extends EventEmitter<{ state: [change: StateChange]; frame: [frame: StreamFrame]; motion: [active: boolean] }> {
  private readonly owners = new Map<string, Owner>();
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
  private downgradeTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** A capture that could not even be built (bad options): the stream is failed with this until redefined. */
  private failure: string | undefined;
  /** Hardware decoding: the provider of the definition it was resolved for, its plan and its fallback policy. */
  private accel: { provider: AccelProvider; plan?: HwaccelPlan; fallback?: HwaccelFallback; stable: boolean } | undefined;

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
    if (this.motionBy.size === 0) return undefined;
    for (const on of this.motionBy.values()) if (on) return true;
    return false;
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
    clearTimeout(this.retryTimer);
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
    const latency = new Histogram(LATENCY_BUCKETS_MS);
    const detectMs = new Histogram(DETECT_BUCKETS_MS);
    let viewers = 0;
    let droppedFrames = 0;
    const viewersRefused = { full: 0, address: 0 };
    for (const u of this.users.values()) {
      const c = u.counters?.();
      if (!c) continue;
      viewers += c.viewers ?? 0;
      droppedFrames += c.droppedFrames ?? 0;
      if (c.viewersRefused) {
        viewersRefused.full += c.viewersRefused.full;
        viewersRefused.address += c.viewersRefused.address;
      }
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

  // --- hardware decoding ---------------------------------------------------------------------------

  private setupAccel(provider: AccelProvider | undefined): void {
    if (this.accel?.provider.key === provider?.key) {
      if (!this.accel || !provider) return;
      this.accel.provider = provider;
      // A deploy is the user's way to say "try again": acceleration that fell back is tried now, not at its next
      // retry. The hardware process starts beside the software one, which goes only once the new one delivers.
      const fallback = this.accel.fallback;
      if (fallback && !fallback.accelerated && fallback.method !== 'software') {
        clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
        this.accel.stable = false;
        fallback.startRetry();
      }
      return;
    }
    clearTimeout(this.retryTimer);
    if (!provider) {
      this.accel = undefined;
      return;
    }
    const accel: NonNullable<Stream['accel']> = { provider, stable: false };
    this.accel = accel;
    provider.resolve().then(
      ({ plan }) => {
        if (this.accel !== accel) return;
        accel.plan = plan;
        accel.fallback = provider.fallback(plan);
        this.apply('grace');
      },
      () => {
        // The probe failed: decode in software (the provider has said why).
        if (this.accel !== accel) return;
        this.accel = undefined;
        this.apply('grace');
      },
    );
  }

  /** The hardware plan the main process should use now: none while software is in force. */
  private hwPlan(): HwaccelPlan | undefined {
    const a = this.accel;
    return a?.plan && a.fallback?.accelerated && a.plan.method !== 'software' ? a.plan : undefined;
  }

  private onExit(role: Role, lease: StreamLease, exit: CaptureExit): void {
    const fallback = this.accel?.fallback;
    if (role !== 'main' || !fallback || !lease.capture.options.plan) return;
    const decision = fallback.onExit(exit);
    if (decision.action !== 'fallback') return;
    this.accel!.stable = false;
    // A camera never stays dark for its acceleration: software at once, acceleration again later.
    this.apply('now');
    clearTimeout(this.retryTimer);
    if (decision.retryAt !== undefined) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (!fallback.retryDue()) return;
        fallback.startRetry();
        this.apply('grace');
      }, Math.max(0, decision.retryAt - Date.now()));
    }
  }

  // --- demand to processes -----------------------------------------------------------------------

  private plan(): Plan {
    const owner = [...this.owners.values()].find((o) => !o.parked) ?? this.owners.values().next().value;
    if (!owner || this.stopped) return {};
    let run = false;
    let rate = 0;
    const grays = new Map<string, Box>();
    const thumbs = new Set<number>();
    const fps = owner.def.capture.fps;
    for (const u of this.users.values()) {
      const d = u.demand;
      if (d.run || d.gray) run = true;
      const wanted = d.jpeg === 'full' ? fps : typeof d.jpeg === 'number' ? d.jpeg : 0;
      rate = Math.max(rate, wanted);
      if (d.gray) grays.set(boxKey(d.gray), d.gray);
      if (d.thumb) thumbs.add(d.thumb);
    }
    if (!run) return {};
    // Hardware decoding is being probed: start once it is known, rather than in software and again in hardware.
    if (this.accel && !this.accel.plan) return {};
    const { lowFps, detect } = owner.def;
    const plan = this.hwPlan();
    const capture = plan ? { ...owner.def.capture, plan } : owner.def.capture;
    const wanted = rate;
    // Nobody needs more than the low rate (0: every frame always), or everyone is content with fewer frames.
    rate = Math.max(rate, lowFps > 0 ? lowFps : fps);
    const every = rate >= fps ? 1 : Math.max(1, Math.floor(fps / rate));
    const gray = [...grays.values()];
    const thumb = [...thumbs].sort((a, b) => a - b);
    const main = { ...capture, gray: undefined, jpeg: true, jpegEvery: every, thumbs: thumb.length ? thumb : undefined };
    if (detect && gray.length > 0) {
      // The sub-stream also makes the low-rate stills, so the main stream's process runs only while someone needs
      // more than that: most of the day a camera costs what decoding its small stream costs.
      const dfps = detect.fps || fps;
      const stillsEvery = lowFps > 0 && lowFps < dfps ? Math.max(1, Math.floor(dfps / lowFps)) : 1;
      const sub = { ...detect, fps: dfps, gray, jpeg: true, jpegEvery: stillsEvery };
      const needMain = lowFps <= 0 || wanted > lowFps || thumb.length > 0;
      return needMain ? { main, detect: sub } : { detect: sub };
    }
    return { main: { ...main, gray: gray.length ? gray : undefined } };
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
    const onExit = (exit: CaptureExit): void => this.onExit(role, lease, exit);
    capture.on('frame', onFrame);
    capture.on('state', onState);
    capture.on('spawn', onSpawn);
    capture.on('exit', onExit);
    this.detachers.set(lease, () => {
      capture.off('frame', onFrame);
      capture.off('state', onState);
      capture.off('spawn', onSpawn);
      capture.off('exit', onExit);
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
    const accel = this.accel;
    if (role === 'main' && accel && !accel.stable && lease.capture.options.plan) {
      const up = lease.capture.stats().upSince;
      if (up !== undefined && f.time - up >= STABLE_MS) {
        accel.stable = true;
        accel.fallback?.onStable();
        this.updateState();
      }
    }
    const boxes = lease.capture.boxes;
    const gray: Record<string, GrayFrame> = {};
    // The sub-stream's stills stand in only while the main stream makes no pictures.
    const mainCapture = this.slots.main.active?.capture;
    const jpeg = role === 'detect' && mainCapture && PRODUCING.has(mainCapture.state) ? undefined : f.jpeg;
    let bytes = jpeg?.length ?? 0;
    const seq = ++this.seq;
    for (let i = 0; i < boxes.length; i++) {
      const g = f.gray[i];
      if (!g) continue;
      gray[boxKey(boxes[i]!)] = { data: g.data, width: g.width, height: g.height, seq, time: f.time };
      bytes += g.data.length;
    }
    let thumbs: Record<string, Buffer> | undefined;
    const widths = lease.capture.thumbs;
    for (let i = 0; i < widths.length; i++) {
      const t = f.thumbs?.[i];
      if (!t) continue;
      (thumbs ??= {})[String(widths[i])] = t;
      bytes += t.length;
    }
    this.frames++;
    this.bytes += bytes;
    this.lastFrameAt = f.time;
    if (jpeg) {
      this.jpegFrames++;
      this.latestJpeg = { data: jpeg, seq, time: f.time };
    }
    this.emit('frame', thumbs ? { seq, time: f.time, jpeg, gray, thumbs } : { seq, time: f.time, jpeg, gray });
  }

  // --- state ------------------------------------------------------------------------------------------

  private updateState(): void {
    // Without a viewer, a stream with a detect source runs only its sub-stream: that one's state is the stream's.
    const detect = this.slots.detect.active?.capture;
    const main = this.slots.main.active?.capture ?? detect;
    let state: StreamState = this.failure ? 'failed' : main?.state ?? 'idle';
    let reason: string | undefined = this.failure;
    let retries = 0;
    if (main) {
      retries = main.stats().retries;
      if (state !== 'healthy') reason = main.reason;
    } else if (this.owners.size === 0 && (this.users.size > 0 || this.refusals.size > 0)) {
      const refusal = this.refusals.values().next().value;
      reason = refusal ?? 'no source node defines this stream';
      // Mid-deploy a consumer may be built before its source: only a finished deploy makes a missing source a fault.
      if (refusal !== undefined || this.settled) state = 'failed';
    }
    if (state === 'healthy' && detect && detect !== main && !PRODUCING.has(detect.state) && detect.state !== 'starting') {
      state = 'degraded';
      reason = `detect source ${detect.state}${detect.stats().lastError ? `: ${detect.stats().lastError}` : ''}`;
    } else if (state === 'healthy' && this.accel?.fallback?.reason) {
      state = 'degraded';
      reason = this.accel.fallback.reason;
    }
    if (state === this.current.state && reason === this.current.reason) return;
    this.current = { state, previous: this.current.state, reason, retries, time: Date.now() };
    // A stopped stream's last picture is history: a still request starts it again instead of serving that.
    if (state === 'idle') this.latestJpeg = undefined;
    this.emit('state', this.current);
  }
}

import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import type { ChildProcess } from 'node:child_process';
import { classifyExit, type ExitVerdict } from '../ffmpeg/exit-classifier';
import { LineRing } from '../util/ring-buffer';
import { redact } from '../ffmpeg/redact';
import { healthChange, RATE_TICK_MS, RateHealth } from './rate-health';
import type { StreamState } from '../types';
import { DEFAULT_RECOVERY, Recovery, type RecoveryOptions } from './recovery';
import { systemClock, type Clock, type ClockTimer } from '../util/clock';

/** The restart policy (capture/recovery.ts) is shared with pass-through cameras. */
export interface SupervisorOptions extends RecoveryOptions {
  command: string;
  args: string[];
  /** How many readable pipes to open from fd 3 on (FFmpeg's gray outputs). */
  extraPipes: number;
  /** Strings that must never appear in logs or reasons (camera passwords, tokens). */
  secrets: string[];
  /** No first frame within this time after a spawn: kill and restart. */
  startTimeoutMs: number;
  /**
   * No frame for this long while running: kill and restart. 0 or unset: 10 frame intervals at the expected rate,
   * at least 5 s, so a stalled camera is caught within 5 s at 2 fps or more.
   */
  stallTimeoutMs: number;
  /** Grace between SIGTERM and SIGKILL on stop; must stay well inside Node-RED's 15 s close timeout. */
  stopTimeoutMs: number;
  /** How often health (frame rate against the target, process alive) is assessed. */
  healthIntervalMs: number;
  /** Target frame rate; measured below 70% of it means degraded. */
  expectedFps: number;
  /** Timers of the watchdogs, restarts and health ticks (tests advance a clock of their own). Default: the system's. */
  clock?: Clock;
}

export const DEFAULT_SUPERVISOR: Omit<SupervisorOptions, 'command' | 'args' | 'extraPipes' | 'secrets' | 'expectedFps'> = {
  ...DEFAULT_RECOVERY,
  startTimeoutMs: 20_000,
  stallTimeoutMs: 0,
  stopTimeoutMs: 3000,
  healthIntervalMs: 30_000,
};

const MIN_STALL_MS = 5000;
const STALL_INTERVALS = 10;

/** The stall limit for a target rate: 10 frame intervals, at least 5 s. */
export function stallLimitMs(expectedFps: number, configuredMs = 0): number {
  if (configuredMs > 0) return configuredMs;
  const interval = expectedFps > 0 ? 1000 / expectedFps : 1000;
  return Math.max(MIN_STALL_MS, STALL_INTERVALS * interval);
}

type ExecaModule = typeof import('execa', { with: { 'resolution-mode': 'import' } });
let execaModule: Promise<ExecaModule> | undefined;
// execa 9 is ESM-only; TypeScript keeps this a real dynamic import in our CommonJS output.
const loadExeca = (): Promise<ExecaModule> => (execaModule ??= import('execa'));

export interface SupervisorEvents {
  state: [state: StreamState, reason: string | undefined];
  stdout: [chunk: Buffer];
  /** A chunk from an extra pipe (fd 3 and up). */
  pipe: [fd: number, chunk: Buffer];
  spawn: [pid: number];
  exit: [verdict: ExitVerdict];
}

/**
 * Keeps one FFmpeg process alive: spawn without a shell, watch it, restart with exponential backoff and jitter,
 * kill it when it stalls, and stop it for sure (SIGTERM, then SIGKILL) when asked.
 */
export class Supervisor extends EventEmitter<SupervisorEvents> {
  private readonly o: SupervisorOptions;
  private readonly clock: Clock;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private stopRequested = false;
  private running = false;
  private restartTimer: ClockTimer | undefined;
  private tickTimer: ClockTimer | undefined;
  private killTimer: ClockTimer | undefined;
  /** Re-armed by every frame (refresh(), no allocation): fires when the process goes quiet. */
  private stallTimer: ClockTimer | undefined;
  private readonly stallMs: number;
  private readonly stderr = new LineRing(40);
  private currentState: StreamState = 'idle';
  private readonly recovery: Recovery;
  private spawnedAt = 0;
  private lastFrameAt = 0;
  private readonly rate: RateHealth;
  private spawnSeq = 0;

  readonly stats = { frames: 0, bytes: 0, fps: 0, restarts: 0, lastError: undefined as string | undefined, upSince: undefined as number | undefined, pid: undefined as number | undefined };

  constructor(options: SupervisorOptions) {
    super();
    this.o = options;
    this.clock = options.clock ?? systemClock;
    this.stallMs = stallLimitMs(options.expectedFps, options.stallTimeoutMs);
    this.rate = new RateHealth(options.expectedFps, options.healthIntervalMs);
    this.recovery = new Recovery(options);
  }

  /** Consecutive failures since the last healthy run (the retry count). */
  get retries(): number {
    return this.recovery.retries;
  }

  get state(): StreamState {
    return this.currentState;
  }

  /** The last lines FFmpeg wrote to stderr, with secrets removed. */
  stderrTail(): string[] {
    return this.stderr.snapshot().map((l) => redact(l, this.o.secrets));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopRequested = false;
    this.recovery.reset();
    this.setState('starting');
    this.spawnNow();
  }

  /** Called by the owner for every complete frame: feeds the stall watchdog, the fps meter and health. */
  noteFrame(bytes: number): void {
    this.stats.frames++;
    this.stats.bytes += bytes;
    this.rate.count();
    this.lastFrameAt = Date.now();
    if (this.stats.upSince === undefined) {
      this.stats.upSince = this.lastFrameAt;
      this.armStall(this.stallMs);
    } else {
      this.stallTimer?.refresh();
    }
    if (this.currentState !== 'healthy' && this.currentState !== 'degraded') {
      this.recovery.delivered();
      this.setState('healthy');
    }
  }

  /** Stops the process and every timer; resolves once FFmpeg has exited. Safe to call repeatedly. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopRequested = true;
    this.clock.clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.stopTicking();
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      this.clock.clearTimeout(this.killTimer);
      this.killTimer = this.clock.setTimeout(() => child.kill('SIGKILL'), this.o.stopTimeoutMs);
    }
    await this.exited;
    this.clock.clearTimeout(this.killTimer);
    this.killTimer = undefined;
    this.setState('idle');
  }

  private setState(state: StreamState, reason?: string): void {
    if (state === this.currentState && reason === undefined) return;
    this.currentState = state;
    this.emit('state', state, reason);
  }

  private spawnNow(): void {
    const seq = ++this.spawnSeq;
    this.exited = loadExeca().then(
      ({ execa }) => {
        if (!this.running || seq !== this.spawnSeq) return;
        return this.runChild(execa);
      },
      (err: Error) => this.onExit(null, null, `cannot load execa: ${err.message}`),
    );
  }

  private runChild(execa: ExecaModule['execa']): Promise<void> {
    this.stderr.clear();
    this.stats.upSince = undefined;
    this.lastFrameAt = 0;
    this.spawnedAt = Date.now();
    this.rate.reset();
    const stdio = ['ignore', 'pipe', 'pipe', ...Array.from({ length: this.o.extraPipes }, () => 'pipe')];
    const subprocess = execa(this.o.command, this.o.args, {
      stdio: stdio as ['ignore', 'pipe', 'pipe'],
      buffer: false,
      reject: false,
      // Kill FFmpeg if Node-RED exits through a signal or process.exit; a SIGKILL of Node-RED is covered by
      // FFmpeg's own EPIPE on its next frame write.
      cleanup: true,
      forceKillAfterDelay: false,
      windowsHide: true,
    });
    const child = subprocess as unknown as ChildProcess;
    this.child = child;
    this.stats.pid = child.pid;
    if (child.pid !== undefined) this.emit('spawn', child.pid);
    child.stdout?.on('data', (chunk: Buffer) => this.emit('stdout', chunk));
    for (let fd = 3; fd < 3 + this.o.extraPipes; fd++) {
      const pipe = child.stdio[fd] as Readable | null | undefined;
      pipe?.on('data', (chunk: Buffer) => this.emit('pipe', fd, chunk));
      // Every pipe must be read continuously or FFmpeg blocks; errors on them (EPIPE at exit) are not news.
      pipe?.on('error', () => undefined);
    }
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      this.stderr.push(text);
    });
    this.startTicking();
    this.armStall(this.o.startTimeoutMs);
    return subprocess.then((result) => {
      const spawnError = result.failed && result.exitCode === undefined && !result.signal && !this.stopRequested
        ? describeSpawnError(result as unknown as { code?: string; originalMessage?: string }, this.o.command)
        : undefined;
      this.onExit(result.exitCode ?? null, result.signal ?? null, spawnError);
    });
  }

  private onExit(code: number | null, signal: string | null, spawnError?: string): void {
    const delivered = this.stats.upSince !== undefined;
    this.child = undefined;
    this.stats.pid = undefined;
    this.stopTicking();
    this.clock.clearTimeout(this.killTimer);
    const verdict = classifyExit({ code, signal, stopRequested: this.stopRequested, stderrTail: this.stderrTail(), spawnError });
    if (verdict.kind !== 'clean') verdict.reason = redact(verdict.reason, this.o.secrets);
    this.emit('exit', verdict);
    if (!this.running || verdict.kind === 'clean') return;
    this.stats.lastError = verdict.reason;
    this.stats.restarts++;
    const retry = this.recovery.next({ permanent: verdict.kind === 'permanent', delivered, reason: verdict.reason });
    this.setState(retry.state, retry.reason);
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = undefined;
      if (this.running) this.spawnNow();
    }, retry.delayMs);
  }

  private startTicking(): void {
    this.stopTicking();
    this.tickTimer = this.clock.setInterval(() => this.tick(), RATE_TICK_MS);
  }

  private stopTicking(): void {
    this.clock.clearInterval(this.tickTimer);
    this.tickTimer = undefined;
    this.clock.clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    this.stats.fps = 0;
  }

  private armStall(ms: number): void {
    this.clock.clearTimeout(this.stallTimer);
    this.stallTimer = this.clock.setTimeout(this.stalled, ms);
  }

  private readonly stalled = (): void => {
    this.stallTimer = undefined;
    const child = this.child;
    if (!child) return;
    const silentFor = Date.now() - (this.lastFrameAt || this.spawnedAt);
    this.stderr.push(`\nstalled: no frame for ${(silentFor / 1000).toFixed(1)} s\n`);
    child.kill('SIGKILL');
  };

  private tick(): void {
    const verdict = this.rate.tick();
    this.stats.fps = this.rate.fps;
    const change = healthChange(this.currentState, verdict);
    if (change) this.setState(change.state, change.reason);
  }
}

function describeSpawnError(result: { code?: string; originalMessage?: string }, command: string): string {
  if (result.code === 'ENOENT') return `FFmpeg not found at "${command}"`;
  if (result.code === 'EACCES') return `FFmpeg at "${command}" is not executable`;
  return `FFmpeg could not be started: ${result.originalMessage ?? result.code ?? 'unknown error'}`;
}

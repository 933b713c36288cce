/**
 * When a hardware-accelerated FFmpeg must give way to software, and when to try the hardware again.
 *
 * Pure policy: no timers, no processes. The stream tells it how each accelerated process ended and asks what to
 * do; it answers "fall back to software now, with this reason" or "carry on as usual", and says when acceleration
 * is due another try. A camera must never stay dark because acceleration failed, so any doubt falls to software.
 */
import { backoffDelay } from '../util/backoff';

/**
 * Lines FFmpeg (and libva, CUDA, oneVPL) print when the hardware path itself fails, as opposed to the camera or
 * the network. Each maps to a short, user-facing cause; `true` where FFmpeg's line says it plainly enough alone.
 * Checked against FFmpeg 5.1 to 7.x messages.
 */
const HARDWARE_ERRORS: ReadonlyArray<[RegExp, string, boolean?]> = [
  [/Failed to initiali[sz]e VAAPI connection/i, 'VAAPI connection failed', true],
  [/No VA display found/i, 'no VA display (no usable /dev/dri render node)', true],
  [/libva error:/i, 'libva error'],
  [/vaInitialize failed|VA_STATUS_ERROR_\w+/i, 'VAAPI initialisation failed'],
  [/Cannot load (?:libcuda|libnvcuvid|nvcuda|libnvidia)/i, 'CUDA driver library not found', true],
  [/Could not dynamically load CUDA/i, 'CUDA driver library not found', true],
  [/CUDA_ERROR_\w+/, 'CUDA error', true],
  [/Error creating a MFX session|Error initiali[sz]ing an? (?:internal )?MFX session|MFX_ERR_\w+|Error during set display handle/i, 'Quick Sync (MFX) session failed', true],
  [/Could not find a valid device/i, 'no V4L2 memory-to-memory decoder device'],
  [/hwaccel initiali[sz]ation returned error|Failed setup for format \w+/i, 'hardware decoder initialisation failed'],
  [/No device available for decoder|Device setup failed for decoder|Device creation failed/i, 'hardware device could not be opened'],
  [/Impossible to convert between the formats supported by the filter/i, 'frames reached the filters in system memory (software decode)'],
  [/A hardware (?:frames|device) (?:context|reference) is required|must have a hardware frame reference|filters could not choose their formats|Invalid output format \S+ for hwframe download/i, 'hardware frames did not reach the filters'],
  [/No decoder surfaces left/i, 'hardware decoder out of surfaces', true],
  [/hardware accelerator failed to decode picture/i, 'hardware decoder failed on a picture', true],
  [/Failed to (?:end|begin|render) picture|vaEndPicture|vaBeginPicture|vaRenderPicture/i, 'VAAPI decode call failed'],
  [/Failed to (?:create|allocate|map|transfer|sync|download)\b[^\n]*(?:surface|frame|context|decoder|buffer)/i, 'hardware frame operation failed'],
  [/Your platform doesn'?t supp?ort hardware accelerated|Hardware does not support|not supported by the hardware/i, 'codec or profile not supported by the hardware', true],
  [/Error creating Videotoolbox decoder|VTDecompressionSession|vt decoder cb/i, 'VideoToolbox decoder failed', true],
  [/Failed to create (?:Direct3D|D3D11|DXVA2)|Unable to (?:create|open) (?:D3D11|DXVA2)|D3D11 device/i, 'Direct3D video device failed', true],
  [/\[AVHWDeviceContext @/, 'hardware device error'],
];

/**
 * Causes that are not the hardware's fault: a camera that refuses or drops connections dies young in software too,
 * so such deaths must not be blamed on acceleration.
 */
const NOT_HARDWARE = /Connection refused|Connection timed out|timed out|No route to host|Network is unreachable|Connection reset|Broken pipe|Server returned|Unauthorized|Forbidden|Not Found|Name or service not known|Temporary failure in name resolution|Host is unreachable|Protocol not found|No such file or directory|Invalid data found when processing input|End of file|method (?:DESCRIBE|SETUP|PLAY) failed/i;

const MAX_REASON = 200;

/** FFmpeg's log prefix ("[h264 @ 0x55d0c0a8] "), which only adds a pointer to the message. */
function stripPrefix(line: string): string {
  return line.replace(/^(?:\[[^\]@]+ @ (?:0x)?[0-9a-f]+\]\s*)+/i, '').trim();
}

function clip(text: string): string {
  return text.length > MAX_REASON ? `${text.slice(0, MAX_REASON - 1)}…` : text;
}

export interface HardwareError {
  /** Short cause in our words, e.g. "CUDA driver library not found". */
  cause: string;
  /** FFmpeg's line needs no words of ours before it. */
  plain: boolean;
  /** The FFmpeg line that says so, without its log prefix. */
  line: string;
}

/**
 * The line of FFmpeg's stderr that says the hardware failed, or undefined when none does. The most specific
 * pattern wins (a libva or CUDA message over the generic "Device creation failed" that follows it).
 */
export function hardwareErrorIn(stderr: readonly string[] | string): HardwareError | undefined {
  const lines = (typeof stderr === 'string' ? stderr.split(/\r?\n/) : stderr).map((l) => l.trim()).filter(Boolean);
  for (const [pattern, cause, plain = false] of HARDWARE_ERRORS) {
    const line = lines.find((l) => pattern.test(l));
    if (line !== undefined) return { cause, plain, line: clip(stripPrefix(line)) };
  }
  return undefined;
}

/** One-line reason for a failed hardware attempt: our cause and FFmpeg's own words. */
export function hardwareReason(err: HardwareError): string {
  return err.plain || err.line.toLowerCase().includes(err.cause.toLowerCase()) ? err.line : clip(`${err.cause}: ${err.line}`);
}

/** The line that best says why FFmpeg failed: a hardware error if there is one, else its last meaningful line. */
export function failureLine(stderr: readonly string[] | string): string {
  const lines = (typeof stderr === 'string' ? stderr.split(/\r?\n/) : stderr).map((l) => l.trim()).filter(Boolean);
  const hw = hardwareErrorIn(lines);
  if (hw) return hardwareReason(hw);
  const last = [...lines].reverse().find((l) => !/^(?:Conversion failed!?|Exiting normally.*)$/.test(l));
  return last ? clip(stripPrefix(last)) : '';
}

export interface FallbackOptions {
  /** A process that exits within this many ms of its start "died right after start". */
  quickDeathMs: number;
  /** This many quick deaths in a row while accelerated mean the acceleration is to blame. */
  quickDeaths: number;
  /** First wait before acceleration is tried again after a fallback; 0 = only on redeploy. */
  retryMs: number;
  /** Longest wait between tries (the wait doubles after each failed try). */
  retryCapMs: number;
  /** An accelerated process that has run this long is trusted again: the stream is no longer degraded. */
  stableMs: number;
}

export const DEFAULT_FALLBACK: FallbackOptions = {
  quickDeathMs: 10_000,
  quickDeaths: 3,
  retryMs: 10 * 60_000,
  retryCapMs: 6 * 60 * 60_000,
  stableMs: 60_000,
};

export interface ExitInfo {
  /** The process was stopped on purpose (redeploy, idle, switch): never a reason to fall back. */
  stopRequested: boolean;
  /** How long the process ran, in ms. */
  uptimeMs: number;
  /** Its last stderr lines (free of secrets). */
  stderrTail: readonly string[];
}

export type FallbackDecision =
  /** Nothing for acceleration to do: restart (or not) as the supervisor always does. */
  | { action: 'continue' }
  /** Restart now, in software, and mark the stream degraded with `reason`. */
  | { action: 'fallback'; reason: string; retryAt: number | undefined };

/** What stream-health and metrics show about a stream's acceleration. */
export interface AccelerationHealth {
  /** The method configured (probe result or named), or 'software'. */
  configured: string;
  /** What the running process uses now. */
  active: string;
  /** Why it runs in software although acceleration was configured; undefined when it runs as configured. */
  fallbackReason?: string;
  /** Epoch ms of the fallback. */
  fallbackSince?: number;
  /** Epoch ms at which acceleration will be tried again; undefined = only on redeploy. */
  retryAt?: number;
  /** Failed tries of acceleration since the last stable run. */
  failures: number;
}

/**
 * One stream's acceleration state: hardware as configured, or software after a hardware failure until a retry is
 * due. Create one per stream with the plan's method; call `onExit` for every process exit, `onStable` when the
 * accelerated process has run `stableMs`, and `startRetry` when `retryDue()` and the stream is ready to restart.
 */
export class HwaccelFallback {
  private readonly o: FallbackOptions;
  private inSoftware: boolean;
  private quick = 0;
  private failures = 0;
  private reasonText: string | undefined;
  private since: number | undefined;
  private retryAtMs: number | undefined;

  constructor(
    readonly method: string,
    options: Partial<FallbackOptions> = {},
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {
    this.o = { ...DEFAULT_FALLBACK, ...options };
    this.inSoftware = method === 'software';
  }

  /** True while the next process should be started with the hardware plan. */
  get accelerated(): boolean {
    return !this.inSoftware;
  }

  /** Why the stream runs in software against its configuration (for `degraded`), else undefined. */
  get reason(): string | undefined {
    return this.reasonText;
  }

  get retryAt(): number | undefined {
    return this.retryAtMs;
  }

  onExit(exit: ExitInfo): FallbackDecision {
    if (this.inSoftware || exit.stopRequested) return { action: 'continue' };
    const hw = hardwareErrorIn(exit.stderrTail);
    if (hw) return this.fallBack(`${this.method} failed: ${hardwareReason(hw)}`);
    const young = exit.uptimeMs < this.o.quickDeathMs;
    const otherCause = exit.stderrTail.some((l) => NOT_HARDWARE.test(l));
    if (!young) {
      this.quick = 0;
      return { action: 'continue' };
    }
    if (otherCause) return { action: 'continue' };
    this.quick++;
    if (this.quick < this.o.quickDeaths) return { action: 'continue' };
    const last = [...exit.stderrTail].reverse().find((l) => l.trim() && !/^Conversion failed!?$/.test(l.trim()));
    const seconds = Math.round(this.o.quickDeathMs / 1000);
    return this.fallBack(
      `${this.method}: died ${this.quick} times within ${seconds} s of start while accelerated${last ? ` (${clip(stripPrefix(last))})` : ''}`,
    );
  }

  /** The accelerated process has run `stableMs`: acceleration works, the stream is no longer degraded by it. */
  onStable(): void {
    if (this.inSoftware) return;
    this.quick = 0;
    this.failures = 0;
    this.reasonText = undefined;
    this.since = undefined;
    this.retryAtMs = undefined;
  }

  /** Acceleration is due another try (restart the stream with the hardware plan, then call `startRetry`). */
  retryDue(): boolean {
    return this.inSoftware && this.method !== 'software' && this.retryAtMs !== undefined && this.now() >= this.retryAtMs;
  }

  /** The next process starts accelerated again; the reason stays until it proves stable (`onStable`). */
  startRetry(): void {
    if (this.method === 'software') return;
    this.inSoftware = false;
    this.quick = 0;
    this.retryAtMs = undefined;
  }

  health(): AccelerationHealth {
    return {
      configured: this.method,
      active: this.inSoftware ? 'software' : this.method,
      fallbackReason: this.reasonText,
      fallbackSince: this.since,
      retryAt: this.retryAtMs,
      failures: this.failures,
    };
  }

  private fallBack(reason: string): FallbackDecision {
    this.inSoftware = true;
    this.quick = 0;
    this.failures++;
    this.reasonText = reason;
    this.since = this.now();
    this.retryAtMs = this.o.retryMs > 0
      ? this.since + backoffDelay(this.failures, { baseMs: this.o.retryMs, capMs: Math.max(this.o.retryMs, this.o.retryCapMs), jitter: 0.1 }, this.random)
      : undefined;
    return { action: 'fallback', reason, retryAt: this.retryAtMs };
  }
}

/** The settings and figures of a camera read without FFmpeg (see mjpeg-http-source.ts). */
import type { PartErrorKind, QuirkKind } from '../jpeg/multipart-splitter';
import type { BackoffOptions } from '../util/backoff';
import { DEFAULT_RECOVERY } from './recovery';
import type { StreamState } from '../types';

export interface MjpegHttpSourceOptions {
  /** http:// or https:// URL of the camera's MJPEG stream; may carry user:password@. */
  url: string;
  /** Override the URL's userinfo. */
  username?: string;
  password?: string;
  backoff?: BackoffOptions;
  /** Consecutive transient failures after which the state is `failed` (retries go on at the backoff cap). */
  maxRetries?: number;
  /** Delay between retries after a permanent error. */
  failedRetryMs?: number;
  /** A connection that delivered frames is reopened at once, at most once in this long (see Recovery). */
  healthyRunMs?: number;
  /** From request to response headers. */
  connectTimeoutMs?: number;
  /** From response headers to the first frame (a camera may take a while to start its encoder). */
  firstFrameTimeoutMs?: number;
  /** No frame for this long once frames flowed: reconnect. */
  stallTimeoutMs?: number;
  /** Parts larger than this are dropped while they arrive (never buffered whole). */
  maxFrameBytes?: number;
  /** Target frame rate; measured below 70% of it means degraded. 0 or absent: never degraded. */
  expectedFps?: number;
  /** How often the frame rate is assessed against expectedFps. */
  healthIntervalMs?: number;
  /** https: verify the camera's certificate. Off by default, as FFmpeg does (cameras use self-signed ones). */
  tlsVerify?: boolean;
}

export type Resolved = Required<Omit<MjpegHttpSourceOptions, 'username' | 'password' | 'expectedFps'>> & { expectedFps: number };

export const DEFAULT_MJPEG_HTTP: Omit<Resolved, 'url'> = {
  ...DEFAULT_RECOVERY,
  connectTimeoutMs: 10_000,
  firstFrameTimeoutMs: 20_000,
  stallTimeoutMs: 10_000,
  maxFrameBytes: 16 * 1024 * 1024,
  expectedFps: 0,
  healthIntervalMs: 30_000,
  tlsVerify: false,
};

export interface MjpegHttpSourceEvents {
  state: [state: StreamState, reason: string | undefined];
  frame: [jpeg: Buffer];
  /** An MJPEG answer was accepted (after any authentication and redirects). */
  connect: [];
  /** The camera answered, but not with MJPEG (a video stream, a page, a snapshot): FFmpeg may read it. */
  unsupported: [reason: string];
}

/**
 * Kinds in `stats.errors`. Parts: not-jpeg, truncated (incl. a connection dropped mid-part), bad-header, oversize.
 * Connections: network, timeout (no response), stall (no frame), ended (the camera closed the stream), http
 * (a status that is not 200), auth, not-multipart, redirect.
 */
export type MjpegHttpErrorKind = PartErrorKind | 'network' | 'timeout' | 'stall' | 'ended' | 'http' | 'auth' | 'not-multipart' | 'redirect';

export interface MjpegHttpSourceStats {
  frames: number;
  /** Bytes of delivered frames. */
  bytes: number;
  fps: number;
  /** Reconnects scheduled after a failure. */
  restarts: number;
  lastError?: string;
  /** Epoch ms of the first frame of the current connection. */
  upSince?: number;
  errors: Partial<Record<MjpegHttpErrorKind, number>>;
  /** Camera quirks recovered from without losing a frame (see MultipartJpegSplitter). */
  quirks: Partial<Record<QuirkKind, number>>;
}

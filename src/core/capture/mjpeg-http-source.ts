/**
 * Reads a camera that already serves MJPEG over HTTP (`multipart/x-mixed-replace`) without FFmpeg: our own HTTP
 * client, the multipart splitter, and the camera's JPEGs passed on byte for byte, with no decode and no encode.
 *
 * Health follows the FFmpeg Supervisor: `starting` until the first frame, `healthy` (or `degraded` below 70% of
 * the expected rate), `recovering` after a network error, reset, timeout, stall or end of stream (reconnect with
 * exponential backoff and jitter; `failed` after maxRetries consecutive failures, retries going on at the cap),
 * and `failed` at once for what will not fix itself (401 after answering, 403, 404, a response that is not a
 * multipart stream), retried every failedRetryMs so a camera that was booting comes back by itself.
 *
 * Credentials: from the options or the URL's userinfo; never sent until the camera asks (a 401 with its
 * challenge), Digest preferred over Basic. A challenge is answered once per connection attempt; a second 401 is
 * permanent. Reasons, logs and errors are passed through redact(): no password, no userinfo, no secret query.
 */

import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import { Recovery } from './recovery';
import { DEFAULT_MJPEG_HTTP, type MjpegHttpErrorKind, type MjpegHttpSourceEvents, type MjpegHttpSourceOptions, type MjpegHttpSourceStats, type Resolved } from './mjpeg-http-options';
import { redact } from '../ffmpeg/redact';
import { safeDecode, SourceConfigError } from '../ffmpeg/source-url';
import { basicAuthorization, chooseAuth, digestAuthorization, parseChallenges, type AuthChoice } from './http-auth';
import { answerFromBody, answerFromType, frameReader, SNIFF_BYTES, type CameraAnswer, type FrameReader } from './camera-answer';
import { healthChange, RATE_TICK_MS, RateHealth } from './rate-health';
import { LineRing } from '../util/ring-buffer';
import type { StreamState } from '../types';

export { DEFAULT_MJPEG_HTTP, type MjpegHttpErrorKind, type MjpegHttpSourceEvents, type MjpegHttpSourceOptions, type MjpegHttpSourceStats } from './mjpeg-http-options';
import { definedOnly } from '../util/defined';

const MAX_REDIRECTS = 5;
const RECENT_ERRORS = 20;
const USER_AGENT = 'node-red-contrib-glimpser';
/** OpenSSL verification failures as Node reports them in err.code. */
const TLS_CERT_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/;

interface Target {
  url: URL;
  /**
   * The URL for messages: no userinfo, secrets redacted. Messages put it last: redact() takes a secret query
   * value up to the next space, so text right after it would be swallowed when a reason is redacted again.
   */
  display: string;
}

/** One connection attempt: redirects and the one answered challenge belong to it. */
interface Attempt {
  target: Target;
  redirects: number;
  answered: boolean;
  req?: http.ClientRequest;
  res?: http.IncomingMessage;
  reader?: FrameReader;
}

class Failure {
  constructor(readonly kind: MjpegHttpErrorKind, readonly reason: string, readonly permanent: boolean) {}
}

export class MjpegHttpSource extends EventEmitter<MjpegHttpSourceEvents> {
  readonly stats: MjpegHttpSourceStats = { frames: 0, bytes: 0, fps: 0, restarts: 0, errors: {}, quirks: {} };

  private readonly o: Resolved;
  private readonly origin: Target;
  private readonly username: string | undefined;
  private readonly password: string;
  private readonly secrets: string[];
  private auth: AuthChoice | undefined;
  private currentState: StreamState = 'idle';
  private running = false;
  private attempt: Attempt | undefined;
  private readonly recovery: Recovery;
  private lastFrameAt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private frameTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private readonly rate: RateHealth;
  /** Requests not yet closed (a 401 answered leaves one closing while the next starts); stop() waits for them. */
  private readonly open = new Set<Promise<void>>();
  private readonly recent = new LineRing(RECENT_ERRORS);

  constructor(opts: MjpegHttpSourceOptions) {
    super();
    if (!opts || typeof opts !== 'object') throw new SourceConfigError('MjpegHttpSource: options missing');
    // Credentials stay out of the options object kept for the source's lifetime.
    const { username: _u, password: _p, ...rest } = opts;
    const o = { ...DEFAULT_MJPEG_HTTP, ...definedOnly(rest) } as Resolved;
    const rawUrl = typeof o.url === 'string' ? o.url.trim() : '';
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      throw new SourceConfigError(`MJPEG URL "${redact(rawUrl, typeof opts.password === 'string' ? [opts.password] : [])}" is not a valid URL`);
    }
    // Credentials: explicit options win over the URL's userinfo, as in ffmpeg-args.
    const fromUrl = url.username !== '' || url.password !== '';
    const username = opts.username || opts.password ? opts.username ?? '' : fromUrl ? safeDecode(url.username) : undefined;
    const password = opts.username || opts.password ? opts.password ?? '' : safeDecode(url.password);
    this.secrets = [password, url.password].filter((s) => s !== '');
    url.username = '';
    url.password = '';
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new SourceConfigError(`MJPEG pass-through needs an http:// or https:// URL, got "${url.protocol}//"`);
    }
    url.hash = '';
    for (const [name, min] of [['maxRetries', 0], ['failedRetryMs', 0], ['connectTimeoutMs', 1], ['firstFrameTimeoutMs', 1],
      ['stallTimeoutMs', 1], ['maxFrameBytes', 4], ['expectedFps', 0], ['healthIntervalMs', 1]] as const) {
      const v = o[name];
      if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
        throw new SourceConfigError(`MjpegHttpSource: ${name} must be a number >= ${min}, got ${String(v)}`);
      }
    }
    this.o = { ...o, url: url.href };
    this.rate = new RateHealth(this.o.expectedFps, this.o.healthIntervalMs);
    this.recovery = new Recovery(this.o);
    this.origin = { url, display: redact(url.href, this.secrets) };
    this.username = username;
    this.password = password;
  }

  get state(): StreamState {
    return this.currentState;
  }

  /** Consecutive failed connections since frames last flowed. */
  get retries(): number {
    return this.recovery.retries;
  }

  /** The camera URL as shown in messages: no credentials. */
  get displayUrl(): string {
    return this.origin.display;
  }

  /** The last errors (oldest first), with time, free of secrets. */
  recentErrors(): string[] {
    return this.recent.snapshot();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.recovery.reset();
    this.setState('starting');
    this.startTicking();
    this.connect();
  }

  /** Closes the connection and clears every timer; resolves once the socket is closed. Safe to call repeatedly. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.stopTicking();
    this.dropAttempt(false);
    while (this.open.size > 0) await Promise.all([...this.open]);
    this.setState('idle');
  }

  private setState(state: StreamState, reason?: string): void {
    if (state === this.currentState && reason === undefined) return;
    this.currentState = state;
    this.emit('state', state, reason);
  }

  private connect(): void {
    const attempt: Attempt = { target: this.origin, redirects: 0, answered: false };
    this.attempt = attempt;
    this.stats.upSince = undefined;
    this.lastFrameAt = 0;
    this.rate.reset();
    this.request(attempt);
  }

  private request(attempt: Attempt): void {
    const { url } = attempt.target;
    const headers: Record<string, string> = { 'User-Agent': USER_AGENT, Accept: 'multipart/x-mixed-replace, */*;q=0.1' };
    // Credentials only to the origin the user configured, and only once it has asked (cached from then on).
    if (this.auth && url.origin === this.origin.url.origin && this.username !== undefined) {
      headers.Authorization = this.auth.scheme === 'basic'
        ? basicAuthorization(this.username, this.password)
        : digestAuthorization(this.auth, { method: 'GET', uri: url.pathname + url.search, username: this.username, password: this.password });
    }
    const lib = url.protocol === 'https:' ? https : http;
    let req: http.ClientRequest;
    try {
      req = lib.request(url, {
        method: 'GET', headers, agent: false,
        ...(url.protocol === 'https:' ? { rejectUnauthorized: this.o.tlsVerify } : {}),
      });
    } catch (err) {
      this.fail(attempt, new Failure('network', `cannot request (${(err as Error).message}): ${attempt.target.display}`, true));
      return;
    }
    attempt.req = req;
    const closed: Promise<void> = new Promise<void>((resolve) => req.once('close', resolve)).then(() => {
      this.open.delete(closed);
    });
    this.open.add(closed);
    clearTimeout(this.connectTimer);
    this.connectTimer = setTimeout(() => {
      this.fail(attempt, new Failure('timeout', `no response within ${seconds(this.o.connectTimeoutMs)} from ${attempt.target.display}`, false));
    }, this.o.connectTimeoutMs);
    // A request replaced after a 401 or a redirect is destroyed: what it reports then is not news.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (attempt.req !== req) return;
      const where = attempt.target.display;
      // An untrusted certificate stays untrusted until someone changes the settings.
      if (TLS_CERT_ERRORS.test(err.code ?? '')) this.fail(attempt, new Failure('network', `TLS certificate not trusted (${err.code}): turn certificate verification off for this camera, or give it a trusted certificate; camera ${where}`, true));
      else this.fail(attempt, new Failure('network', describeNetError(err, where), false));
    });
    req.on('response', (res) => this.onResponse(attempt, req, res));
    req.end();
  }

  private onResponse(attempt: Attempt, req: http.ClientRequest, res: http.IncomingMessage): void {
    if (!this.current(attempt) || attempt.req !== req) {
      req.destroy();
      return;
    }
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    attempt.res = res;
    res.on('error', () => undefined); // reported through the request's close path below
    const status = res.statusCode ?? 0;
    const where = attempt.target.display;
    if (status === 401) {
      this.onUnauthorized(attempt, req, res);
      return;
    }
    if (status >= 300 && status < 400 && status !== 304) {
      this.onRedirect(attempt, req, res);
      return;
    }
    if (status !== 200) {
      res.resume();
      const text = `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''} from ${where}`;
      if (status === 403) this.fail(attempt, new Failure('auth', `access forbidden (403): ${text}`, true));
      else if (status === 404) this.fail(attempt, new Failure('http', `not found (404), check the stream path: ${text}`, true));
      else if (status >= 500) this.fail(attempt, new Failure('http', text, false));
      else this.fail(attempt, new Failure('http', text, true));
      return;
    }
    const type = res.headers['content-type'] ?? '';
    const declared = answerFromType(type);
    // The connection's fate follows from here on; a sniffed answer starts reading once its first bytes are in.
    res.on('end', () => this.fail(attempt, new Failure('ended', `stream ended by ${where}`, false)));
    res.on('close', () => {
      if (!res.complete) this.fail(attempt, new Failure('network', `connection closed mid-stream by ${where}`, false));
    });
    this.armFrameTimer(attempt, this.o.firstFrameTimeoutMs, 'first frame');
    if (declared !== 'sniff') {
      this.read(attempt, res, declared, []);
      return;
    }
    const first: Buffer[] = [];
    let seen = 0;
    const sniff = (chunk: Buffer): void => {
      if (!this.current(attempt)) return;
      first.push(chunk);
      seen += chunk.length;
      if (seen < SNIFF_BYTES) return;
      res.off('data', sniff);
      this.read(attempt, res, answerFromBody(type, Buffer.concat(first)), first);
    };
    res.on('data', sniff);
  }

  /** Reads the camera's answer: its JPEGs when it is MJPEG, else says what it is (auto mode then reads it with FFmpeg). */
  private read(attempt: Attempt, res: http.IncomingMessage, answer: CameraAnswer, already: Buffer[]): void {
    const where = attempt.target.display;
    if (answer.format === 'other') {
      res.resume();
      const reason = `answered with ${answer.what}, not an MJPEG stream (multipart/x-mixed-replace): use the camera's MJPEG stream URL, or read it through FFmpeg; camera ${where}`;
      this.emit('unsupported', redact(reason, this.secrets));
      this.fail(attempt, new Failure('not-multipart', reason, true));
      return;
    }
    let reader: FrameReader;
    try {
      reader = frameReader(answer, this.o.maxFrameBytes, {
        onFrame: (jpeg) => this.onFrame(attempt, jpeg),
        onError: (message, kind) => this.countError(kind, `${message}, from ${where}`),
        onOversize: (bytes) => this.countError('oversize', `part of ${bytes} bytes over the ${this.o.maxFrameBytes}-byte cap dropped, from ${where}`),
        onQuirk: (kind) => {
          this.stats.quirks[kind] = (this.stats.quirks[kind] ?? 0) + 1;
        },
      });
    } catch (err) {
      res.resume();
      this.fail(attempt, new Failure('not-multipart', `${(err as Error).message}, from ${where}`, true));
      return;
    }
    attempt.reader = reader;
    this.emit('connect');
    for (const chunk of already) if (this.current(attempt)) reader.push(chunk);
    res.on('data', (chunk: Buffer) => {
      if (this.current(attempt)) reader.push(chunk);
    });
  }

  private onUnauthorized(attempt: Attempt, req: http.ClientRequest, res: http.IncomingMessage): void {
    res.resume();
    const where = attempt.target.display;
    if (attempt.target.url.origin !== this.origin.url.origin) {
      this.fail(attempt, new Failure('auth', `authentication required (401) after a redirect to another host: credentials are sent only to ${this.origin.url.host}; use the redirect target directly: ${where}`, true));
      return;
    }
    if (this.username === undefined) {
      this.fail(attempt, new Failure('auth', `authentication required (401): set a username and password, at ${where}`, true));
      return;
    }
    if (attempt.answered) {
      this.auth = undefined;
      this.fail(attempt, new Failure('auth', `authentication failed (401): check username and password, at ${where}`, true));
      return;
    }
    const values: string[] = [];
    for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
      if (res.rawHeaders[i]!.toLowerCase() === 'www-authenticate') values.push(res.rawHeaders[i + 1]!);
    }
    const choice = chooseAuth(parseChallenges(values));
    if ('unsupported' in choice) {
      this.fail(attempt, new Failure('auth', `authentication required (401), but the camera offers no supported scheme (offered: ${choice.unsupported}; supported: Digest MD5/SHA-256, Basic), at ${where}`, true));
      return;
    }
    this.auth = choice;
    attempt.answered = true;
    req.destroy();
    this.request(attempt);
  }

  private onRedirect(attempt: Attempt, req: http.ClientRequest, res: http.IncomingMessage): void {
    res.resume();
    const location = res.headers.location;
    const where = attempt.target.display;
    if (!location) {
      this.fail(attempt, new Failure('http', `HTTP ${res.statusCode} without a Location from ${where}`, true));
      return;
    }
    if (attempt.redirects >= MAX_REDIRECTS) {
      this.fail(attempt, new Failure('redirect', `more than ${MAX_REDIRECTS} redirects from ${this.origin.display}`, true));
      return;
    }
    let next: URL;
    try {
      next = new URL(location, attempt.target.url);
    } catch {
      this.fail(attempt, new Failure('redirect', `bad redirect Location from ${where}`, true));
      return;
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      this.fail(attempt, new Failure('redirect', `redirect to a ${next.protocol} URL from ${where}`, true));
      return;
    }
    // Userinfo in a Location is never used (nor shown).
    next.username = '';
    next.password = '';
    attempt.redirects += 1;
    attempt.target = { url: next, display: redact(next.href, this.secrets) };
    req.destroy();
    this.request(attempt);
  }

  private onFrame(attempt: Attempt, jpeg: Buffer): void {
    if (!this.current(attempt)) return;
    const now = Date.now();
    this.stats.frames += 1;
    this.stats.bytes += jpeg.length;
    this.rate.count();
    if (this.lastFrameAt === 0) {
      this.stats.upSince = now;
      this.armFrameTimer(attempt, this.o.stallTimeoutMs, 'frame');
    } else {
      this.frameTimer?.refresh();
    }
    this.lastFrameAt = now;
    if (this.currentState !== 'healthy' && this.currentState !== 'degraded') {
      this.recovery.delivered();
      this.setState('healthy');
    }
    this.emit('frame', jpeg);
  }

  private armFrameTimer(attempt: Attempt, ms: number, what: string): void {
    clearTimeout(this.frameTimer);
    this.frameTimer = setTimeout(() => {
      this.fail(attempt, new Failure('stall', `no ${what} for ${seconds(ms)} from ${attempt.target.display}`, false));
    }, ms);
  }

  private current(attempt: Attempt): boolean {
    return this.running && this.attempt === attempt;
  }

  private countError(kind: MjpegHttpErrorKind, message: string): void {
    this.stats.errors[kind] = (this.stats.errors[kind] ?? 0) + 1;
    this.recent.push(`${new Date().toISOString()} ${kind}: ${redact(message, this.secrets)}\n`);
  }

  /** Ends the attempt (once), counts the failure and schedules the next one. */
  private fail(attempt: Attempt, failure: Failure): void {
    if (!this.current(attempt)) return;
    this.dropAttempt(true);
    const reason = redact(failure.reason, this.secrets);
    this.countError(failure.kind, reason);
    this.stats.lastError = reason;
    this.stats.restarts += 1;
    const retry = this.recovery.next({ permanent: failure.permanent, delivered: this.lastFrameAt !== 0, reason });
    this.setState(retry.state, retry.reason);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.running) this.connect();
    }, retry.delayMs);
  }

  /** Closes the current attempt's connection and its timers; a JPEG cut short by a failure counts as truncated. */
  private dropAttempt(failed: boolean): void {
    const attempt = this.attempt;
    this.attempt = undefined;
    clearTimeout(this.connectTimer);
    clearTimeout(this.frameTimer);
    this.connectTimer = undefined;
    this.frameTimer = undefined;
    this.stats.fps = 0;
    if (!attempt) return;
    const reader = attempt.reader;
    if (reader) {
      if (reader.reset() && failed) this.countError('truncated', `connection ended inside a JPEG, from ${attempt.target.display}`);
    }
    attempt.req?.destroy();
  }

  private startTicking(): void {
    this.stopTicking();
    this.tickTimer = setInterval(() => this.tick(), RATE_TICK_MS);
  }

  private stopTicking(): void {
    clearInterval(this.tickTimer);
    this.tickTimer = undefined;
    this.stats.fps = 0;
  }

  private tick(): void {
    const verdict = this.rate.tick();
    this.stats.fps = this.rate.fps;
    const change = healthChange(this.currentState, verdict);
    if (change) this.setState(change.state, change.reason);
  }
}



function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms % 1000 ? 1 : 0)} s`;
}

function describeNetError(err: NodeJS.ErrnoException, where: string): string {
  switch (err.code) {
    case 'ECONNREFUSED': return `connection refused by ${where}`;
    case 'ECONNRESET': return `connection reset by ${where}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return `host not found (DNS): ${where}`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH': return `unreachable: ${where}`;
    case 'ETIMEDOUT': return `connection timed out: ${where}`;
    default: return `${err.message}, from ${where}`;
  }
}

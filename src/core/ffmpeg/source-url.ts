/**
 * What a source string is: a camera URL (parsed without ever decoding credentials into view), a file, a V4L2
 * device or a lavfi test pattern.
 */

import { redact } from './redact';

export type SourceKind = 'rtsp' | 'http' | 'mjpeg-http' | 'file' | 'device' | 'testsrc';

/** A configuration the user must fix. Its message is shown to the user and never contains a password. */
export class SourceConfigError extends Error {
  override readonly name = 'SourceConfigError';
}

export const TESTSRC_PREFIX = 'testsrc:';
/** lavfi video sources accepted as a bare spec (`testsrc2=size=1280x720:rate=10`) without the prefix. */
const LAVFI_SOURCES = new Set([
  'testsrc', 'testsrc2', 'smptebars', 'smptehdbars', 'rgbtestsrc', 'yuvtestsrc', 'color', 'mandelbrot', 'life',
  'cellauto', 'allrgb', 'allyuv', 'gradients', 'pal75bars', 'pal100bars', 'sierpinski',
]);
const DEFAULT_PORTS: Record<string, string> = { rtsp: '554', rtsps: '322', http: '80', https: '443' };
const URL_SCHEMES: Record<string, SourceKind> = { rtsp: 'rtsp', rtsps: 'rtsp', http: 'http', https: 'http' };
const SCHEME_RE = /^([a-z][a-z0-9+.-]*):/i;
export const URL_RE = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([^#]*)(#.*)?$/is;

export interface ParsedUrl {
  scheme: string;
  /** Raw (still percent-encoded) userinfo, without the '@'. */
  userinfo: string | undefined;
  host: string;
  port: string;
  /** Path and query as given (an empty path stays empty). */
  rest: string;
}

/** Percent-decoding that never throws: a malformed escape stays as it was. */
export function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function isLavfiSpec(s: string): boolean {
  const m = /^([a-z0-9_]+)(?:=|$)/.exec(s);
  return m !== null && LAVFI_SOURCES.has(m[1]!);
}

function isWindowsDrivePath(s: string): boolean {
  return /^[a-z]:[\\/]/i.test(s);
}


export function parseUrl(source: string): ParsedUrl {
  const m = URL_RE.exec(source);
  if (!m) throw new SourceConfigError(`Source URL "${displayRaw(source)}" is not a valid URL`);
  const scheme = m[1]!.toLowerCase();
  let authority = m[2]!;
  let userinfo: string | undefined;
  const at = authority.lastIndexOf('@');
  if (at !== -1) {
    userinfo = authority.slice(0, at);
    authority = authority.slice(at + 1);
  }
  let host = authority;
  let port = '';
  const pm = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(authority);
  if (!pm) throw new SourceConfigError(`Source URL "${displayRaw(source)}" has an invalid host or port`);
  host = pm[1]!.toLowerCase();
  port = pm[2] ?? '';
  if (!host) throw new SourceConfigError(`Source URL "${displayRaw(source)}" has no host`);
  if (/\s/.test(source)) throw new SourceConfigError(`Source URL "${displayRaw(source)}" contains spaces: percent-encode them as %20`);
  if (port !== '' && (Number(port) < 1 || Number(port) > 65535)) {
    throw new SourceConfigError(`Source URL "${displayRaw(source)}" has an invalid port ${port}`);
  }
  if (port === DEFAULT_PORTS[scheme]) port = '';
  return { scheme, userinfo, host, port, rest: m[3]! };
}

/** Best-effort credential-free form of a raw source string, for error messages. */
export function displayRaw(source: string): string {
  return redact(source, []);
}

export function hostPort(u: ParsedUrl): string {
  return u.port ? `${u.host}:${u.port}` : u.host;
}

export function detectKind(source: string): SourceKind {
  const s = typeof source === 'string' ? source.trim() : '';
  if (!s) {
    throw new SourceConfigError('No source given: enter an rtsp:// or http:// URL, a file path, a /dev/video device or testsrc:<lavfi spec>');
  }
  if (s.toLowerCase().startsWith(TESTSRC_PREFIX) || isLavfiSpec(s)) return 'testsrc';
  if (/^\/dev\/video\d+$/.test(s) || s.startsWith('/dev/v4l/')) return 'device';
  const m = SCHEME_RE.exec(s);
  if (m && !isWindowsDrivePath(s)) {
    const scheme = m[1]!.toLowerCase();
    if (scheme === 'file') return 'file';
    const kind = URL_SCHEMES[scheme];
    if (!kind) {
      throw new SourceConfigError(`Unsupported source scheme "${scheme}:": use rtsp://, rtsps://, http://, https://, file://, a path, /dev/videoN or testsrc:`);
    }
    // Whether an http(s) camera sends MJPEG is known only from what it answers (see capture/camera-answer.ts),
    // never from its URL's spelling: an ESP32-CAM's /stream, Foscam's /videostream.cgi and motion's / send MJPEG.
    return kind;
  }
  return 'file';
}

/**
 * FFmpeg argument building for one persistent capture process, plus the helpers that keep credentials out of
 * everything but the argument array: a normalised source signature (for sharing one process between nodes),
 * a display form of the source, and redaction of FFmpeg's stderr.
 *
 * Arguments target FFmpeg >= 5.0 (checked against Debian's 5.1) unless `ffmpegVersion` says otherwise: in 4.x
 * the RTSP `-timeout` option meant "listen for an incoming connection" (the socket timeout was `-stimeout`), and
 * `-reconnect_on_network_error` only arrived in 4.3.
 */

import { createHmac, randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DecodePlan } from './decode-plan';
import { FFMPEG_BOUNDARY } from '../jpeg/multipart-splitter';

export type SourceKind = 'rtsp' | 'http' | 'mjpeg-http' | 'file' | 'device' | 'testsrc';

export interface Box {
  width: number;
  height: number;
}

/** A box as a short key ("240x180"): how outputs and the motion nodes that asked for them refer to each other. */
export function boxKey(box: Box): string {
  return `${box.width}x${box.height}`;
}

/** A configuration the user must fix. Its message is shown to the user and never contains a password. */
export class SourceConfigError extends Error {
  override readonly name = 'SourceConfigError';
}

export interface CaptureOptions {
  source: string;
  /** Overrides detection from `source`. */
  kind?: SourceKind;
  username?: string;
  password?: string;
  fps: number;
  /** Output width in pixels; height follows the aspect ratio (rounded to even). Omit or 0 to keep the source size. */
  width?: number;
  /** JPEG quality scale, -q:v 2 (best) .. 31 (smallest). */
  quality: number;
  /** Files only: play the file again and again. */
  loop?: boolean;
  /** Files only: read at the native frame rate (-re). Default true. */
  realtime?: boolean;
  /**
   * Gray PGM outputs for motion, one pipe each (pipe:3, pipe:4, …): frames that fit inside each box, keeping the
   * aspect ratio. Every decoded frame goes to every gray output, so the n-th frame of each pipe is the same picture.
   */
  gray?: Box | readonly Box[];
  /** The JPEG output (pipe:1) carries every n-th frame only (1: every frame). Gray outputs always carry every frame. */
  jpegEvery?: number;
  /** false: no JPEG output at all (a detect-only process); then at least one gray output is needed. */
  jpeg?: boolean;
  /**
   * Smaller JPEG outputs of these widths (thumbnail viewers, `?width=320`), beside the main JPEG and at its rate,
   * each on its own pipe after the gray ones.
   */
  thumbs?: readonly number[];
  /** Input options for hardware decoding, e.g. ['-hwaccel', 'vaapi'] (a hand-made alternative to `plan`). */
  hwaccelArgs?: string[];
  /**
   * Hardware decoding as hwaccel-config planned it: its input options, and the filter chains that bring its frames
   * (possibly in GPU memory) to each output's size and format. Absent: software.
   */
  plan?: DecodePlan;
  /**
   * An MJPEG-over-HTTP camera read by our own HTTP client, without FFmpeg: its JPEGs pass through untouched, gray
   * frames are decoded from them at reduced size. Needs an http(s) source.
   */
  passthrough?: boolean;
  /** Further input options, placed last before -i so they can override ours. */
  extraInputArgs?: string[];
  /**
   * Decoder threads (0 or absent: FFmpeg's choice, one per core plus one). One thread costs the least CPU per frame
   * and adds no frame-threading delay; a 4K camera on a slow CPU may need more to keep up.
   */
  decoderThreads?: number;
  /**
   * Version of the FFmpeg binary that will run the args, when known to be older than 5.0 (e.g. the 2018 static
   * build of @ffmpeg-installer/ffmpeg). Omit for FFmpeg >= 5. Not part of the source signature.
   */
  ffmpegVersion?: { major: number; minor: number };
}

const TESTSRC_PREFIX = 'testsrc:';
/** lavfi video sources accepted as a bare spec (`testsrc2=size=1280x720:rate=10`) without the prefix. */
const LAVFI_SOURCES = new Set([
  'testsrc', 'testsrc2', 'smptebars', 'smptehdbars', 'rgbtestsrc', 'yuvtestsrc', 'color', 'mandelbrot', 'life',
  'cellauto', 'allrgb', 'allyuv', 'gradients', 'pal75bars', 'pal100bars', 'sierpinski',
]);
const DEFAULT_PORTS: Record<string, string> = { rtsp: '554', rtsps: '322', http: '80', https: '443' };
const URL_SCHEMES: Record<string, SourceKind> = { rtsp: 'rtsp', rtsps: 'rtsp', http: 'http', https: 'http' };
const REDACTED = '***';
const MAX_FPS = 120;
const MIN_QUALITY = 2;
const MAX_QUALITY = 31;
const MAX_DIMENSION = 16384;
const MIN_GRAY_DIMENSION = 8;
/** Distinct gray sizes one process makes at most: each is a pipe and a scaler. */
const MAX_GRAY_OUTPUTS = 4;
const MAX_JPEG_EVERY = 1000;
const MAX_THUMBS = 2;
const MIN_THUMB_WIDTH = 16;

const RTSP_INPUT = ['-rtsp_transport', 'tcp', '-timeout', '5000000'];
/** FFmpeg < 5: `-timeout` would put the RTSP demuxer in listen mode; the socket timeout was `-stimeout`. */
const RTSP_INPUT_LEGACY = ['-rtsp_transport', 'tcp', '-stimeout', '5000000'];
const HTTP_INPUT = ['-reconnect', '1', '-reconnect_streamed', '1', '-reconnect_on_network_error', '1',
  '-reconnect_delay_max', '5', '-rw_timeout', '10000000'];
/** FFmpeg < 4.3 has no -reconnect_on_network_error. */
const HTTP_INPUT_LEGACY = ['-reconnect', '1', '-reconnect_streamed', '1', '-reconnect_delay_max', '5', '-rw_timeout', '10000000'];
/**
 * Live network input: FFmpeg otherwise studies up to 5 s of the stream before its first frame (it waits for the frame
 * rate it cannot read from the stream), which every start, restart and demand switch of a live camera pays. 1 s of
 * stream time is enough to find the video stream; the size comes with the first keyframe, and the fps filter sets
 * the rate. Measured on a live H.264 MPEG-TS stream over HTTP, joined mid-GOP: first frame after 5.5–7.3 s by
 * default, 1.5–2.5 s with this (bench/cpu-per-camera.js measures a viewer's arrival on it).
 */
const LIVE_PROBE = ['-analyzeduration', '1000000'];
/** Errors only: FFmpeg's progress line and banner would bury the one line that says what went wrong. */
const GLOBAL_ARGS = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error'];
/** Only the mapped video goes out: no audio, subtitle or data streams. */
const DROP_OTHER_STREAMS = ['-an', '-sn', '-dn'];

/** Userinfo in any URL: scheme://user:pass@ (up to the last '@' before the path). */
const USERINFO_RE = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#]*@/gi;
/** Query parameters that commonly carry secrets. */
const QUERY_SECRET_RE = /([?&;](?:password|passwd|pwd|pass|token|access_token|auth|api_?key|key|secret|sig|signature)=)[^&\s#'"]*/gi;
const SCHEME_RE = /^([a-z][a-z0-9+.-]*):/i;
const URL_RE = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)([^#]*)(#.*)?$/is;

/** Per-process key: credential hashes in signatures compare equal within this process and reveal nothing. */
const SIGNATURE_KEY = randomBytes(32);

interface ParsedUrl {
  scheme: string;
  /** Raw (still percent-encoded) userinfo, without the '@'. */
  userinfo: string | undefined;
  host: string;
  port: string;
  /** Path and query as given (an empty path stays empty). */
  rest: string;
}

interface Normalised {
  kind: SourceKind;
  /** What follows -i, without credentials. */
  input: string;
  url: ParsedUrl | undefined;
  user: string | undefined;
  pass: string | undefined;
  fps: number;
  width: number | undefined;
  quality: number;
  loop: boolean;
  realtime: boolean;
  grays: Box[];
  thumbs: number[];
  jpeg: boolean;
  jpegEvery: number;
  hwaccelArgs: string[];
  plan: DecodePlan | undefined;
  passthrough: boolean;
  extraInputArgs: string[];
  decoderThreads: number;
}

function safeDecode(s: string): string {
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

/** Heuristic for cameras that already serve multipart MJPEG over HTTP. */
function looksLikeMjpegHttp(rest: string): boolean {
  const q = rest.indexOf('?');
  const pathname = q === -1 ? rest : rest.slice(0, q);
  return /\.mjpe?g$/i.test(pathname) || /\/mjpg\//i.test(pathname) || /[?&]action=stream(?:&|$)/i.test(rest);
}

function parseUrl(source: string): ParsedUrl {
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
function displayRaw(source: string): string {
  return redact(source, []);
}

function hostPort(u: ParsedUrl): string {
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
    if (kind === 'http') {
      const u = URL_RE.exec(s);
      if (u && looksLikeMjpegHttp(u[3]!)) return 'mjpeg-http';
    }
    return kind;
  }
  return 'file';
}

function threadsOf(v: unknown): number {
  if (v === undefined || v === 0) return 0;
  if (!finiteNumber(v) || !Number.isInteger(v) || v < 0 || v > 64) throw new SourceConfigError(`Decoder threads must be 0 (automatic) to 64, got ${String(v)}`);
  return v;
}

function passthroughOf(o: CaptureOptions, kind: SourceKind): boolean {
  if (!o.passthrough) return false;
  if (kind !== 'http' && kind !== 'mjpeg-http') {
    throw new SourceConfigError('MJPEG pass-through reads http:// or https:// cameras only; use FFmpeg for other sources');
  }
  return true;
}

function finiteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function stringArray(v: unknown, name: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new SourceConfigError(`${name} must be a list of strings`);
  }
  return [...v];
}

function normalise(o: CaptureOptions): Normalised {
  if (!o || typeof o !== 'object') throw new SourceConfigError('Capture options missing');
  const source = typeof o.source === 'string' ? o.source.trim() : '';
  if (!source) detectKind(source); // throws the "no source" message
  const kind = o.kind ?? detectKind(source);

  let input: string;
  let url: ParsedUrl | undefined;
  let user: string | undefined;
  let pass: string | undefined;
  switch (kind) {
    case 'rtsp':
    case 'http':
    case 'mjpeg-http': {
      url = parseUrl(source);
      const expected = kind === 'rtsp' ? ['rtsp', 'rtsps'] : ['http', 'https'];
      if (!expected.includes(url.scheme)) {
        throw new SourceConfigError(`Source kind ${kind} needs a ${expected.join('://, ')}:// URL, got "${url.scheme}://"`);
      }
      input = `${url.scheme}://${hostPort(url)}${url.rest}`;
      if (o.username || o.password) {
        user = o.username ?? '';
        pass = o.password ?? '';
      } else if (url.userinfo !== undefined) {
        const colon = url.userinfo.indexOf(':');
        user = safeDecode(colon === -1 ? url.userinfo : url.userinfo.slice(0, colon));
        pass = colon === -1 ? undefined : safeDecode(url.userinfo.slice(colon + 1));
      }
      break;
    }
    case 'file': {
      let p = source;
      if (/^file:/i.test(p)) {
        try {
          p = fileURLToPath(p);
        } catch {
          throw new SourceConfigError(`Source "${displayRaw(source)}" is not a valid file:// URL`);
        }
      }
      // Absolute, so a name starting with '-' is not read as an option and "a:b.mp4" not as a protocol.
      input = path.resolve(p);
      break;
    }
    case 'device':
      input = source;
      break;
    case 'testsrc': {
      input = source.toLowerCase().startsWith(TESTSRC_PREFIX) ? source.slice(TESTSRC_PREFIX.length).trim() : source;
      if (!input) throw new SourceConfigError('testsrc: needs a lavfi source, e.g. testsrc:testsrc2=size=1280x720:rate=10');
      if (input.startsWith('-')) throw new SourceConfigError('testsrc: spec must not start with "-"');
      break;
    }
    default:
      throw new SourceConfigError(`Unknown source kind "${String(kind)}"`);
  }

  if (!finiteNumber(o.fps) || o.fps <= 0 || o.fps > MAX_FPS) {
    throw new SourceConfigError(`Frame rate must be a number above 0 and at most ${MAX_FPS}, got ${String(o.fps)}`);
  }
  if (!finiteNumber(o.quality) || Math.round(o.quality) < MIN_QUALITY || Math.round(o.quality) > MAX_QUALITY) {
    throw new SourceConfigError(`JPEG quality must be ${MIN_QUALITY} (best) to ${MAX_QUALITY} (smallest), got ${String(o.quality)}`);
  }
  let width: number | undefined;
  if (o.width !== undefined && o.width !== 0) {
    if (!finiteNumber(o.width) || o.width < 2 || o.width > MAX_DIMENSION) {
      throw new SourceConfigError(`Output width must be 2 to ${MAX_DIMENSION} pixels (or 0 to keep the source size), got ${String(o.width)}`);
    }
    const w = Math.round(o.width);
    width = w - (w % 2); // JPEG 4:2:0 wants even sizes
  }
  const grays: Box[] = [];
  const asked = o.gray === undefined ? [] : Array.isArray(o.gray) ? (o.gray as readonly Box[]) : [o.gray as Box];
  for (const box of asked) {
    const { width: gw, height: gh } = box ?? ({} as Box);
    if (!finiteNumber(gw) || !finiteNumber(gh) || gw < MIN_GRAY_DIMENSION || gh < MIN_GRAY_DIMENSION || gw > MAX_DIMENSION || gh > MAX_DIMENSION) {
      throw new SourceConfigError(`Gray frame box must be ${MIN_GRAY_DIMENSION} to ${MAX_DIMENSION} pixels each way, got ${String(gw)}x${String(gh)}`);
    }
    const b = { width: Math.round(gw), height: Math.round(gh) };
    if (!grays.some((g) => g.width === b.width && g.height === b.height)) grays.push(b);
  }
  if (grays.length > MAX_GRAY_OUTPUTS) {
    throw new SourceConfigError(`At most ${MAX_GRAY_OUTPUTS} different gray frame sizes per source, got ${grays.length}`);
  }
  grays.sort((a, b) => a.width - b.width || a.height - b.height);
  const jpeg = o.jpeg !== false;
  if (!jpeg && grays.length === 0) throw new SourceConfigError('A process without JPEG output needs a gray output');
  const thumbs = [...new Set((o.thumbs ?? []).map((w) => (finiteNumber(w) ? Math.round(w) - (Math.round(w) % 2) : NaN)))].sort((a, b) => a - b);
  if (thumbs.some((w) => !(w >= MIN_THUMB_WIDTH && w <= MAX_DIMENSION))) {
    throw new SourceConfigError(`Thumbnail widths must be ${MIN_THUMB_WIDTH} to ${MAX_DIMENSION} pixels, got ${String(o.thumbs)}`);
  }
  if (thumbs.length > MAX_THUMBS) throw new SourceConfigError(`At most ${MAX_THUMBS} thumbnail sizes per source, got ${thumbs.length}`);
  if (!jpeg && thumbs.length > 0) throw new SourceConfigError('Thumbnails need the JPEG output');
  const every = o.jpegEvery ?? 1;
  if (!finiteNumber(every) || every < 1 || every > MAX_JPEG_EVERY) {
    throw new SourceConfigError(`jpegEvery must be 1 to ${MAX_JPEG_EVERY}, got ${String(o.jpegEvery)}`);
  }
  return {
    kind,
    input,
    url,
    user,
    pass,
    fps: o.fps,
    width,
    quality: Math.round(o.quality),
    loop: kind === 'file' && o.loop === true,
    realtime: kind === 'file' ? o.realtime !== false : kind === 'testsrc',
    grays,
    thumbs,
    jpeg,
    jpegEvery: jpeg ? Math.round(every) : 1,
    hwaccelArgs: stringArray(o.hwaccelArgs, 'hwaccelArgs'),
    plan: o.plan && o.plan.method !== 'software' ? o.plan : undefined,
    passthrough: passthroughOf(o, kind),
    extraInputArgs: stringArray(o.extraInputArgs, 'extraInputArgs'),
    decoderThreads: threadsOf(o.decoderThreads),
  };
}

/** The input URL with credentials injected into its userinfo, percent-encoded. Only ever goes into argv. */
function inputWithCredentials(n: Normalised): string {
  if (!n.url || n.user === undefined) return n.input;
  const userinfo = encodeURIComponent(n.user) + (n.pass === undefined ? '' : ':' + encodeURIComponent(n.pass));
  return `${n.url.scheme}://${userinfo}@${hostPort(n.url)}${n.url.rest}`;
}

function versionBelow(v: { major: number; minor: number } | undefined, major: number, minor: number): boolean {
  return v !== undefined && (v.major < major || (v.major === major && v.minor < minor));
}

function inputArgs(n: Normalised, version: { major: number; minor: number } | undefined): string[] {
  switch (n.kind) {
    case 'rtsp':
      return [...(versionBelow(version, 5, 0) ? RTSP_INPUT_LEGACY : RTSP_INPUT), ...LIVE_PROBE];
    case 'http':
      return [...(versionBelow(version, 4, 3) ? HTTP_INPUT_LEGACY : HTTP_INPUT), ...LIVE_PROBE];
    case 'mjpeg-http':
      // The MJPEG demuxer stamps a camera's frames at 25 fps whatever it sends, so the fps filter would drop most
      // of a 10 fps camera's frames: arrival time is the only true clock such a stream has.
      return [...(versionBelow(version, 4, 3) ? HTTP_INPUT_LEGACY : HTTP_INPUT), ...LIVE_PROBE, '-use_wallclock_as_timestamps', '1'];
    case 'file':
      return [...(n.loop ? ['-stream_loop', '-1'] : []), ...(n.realtime ? ['-re'] : [])];
    case 'device':
      return ['-f', 'v4l2'];
    case 'testsrc':
      // lavfi sources run as fast as the CPU allows unless paced.
      return ['-re', '-f', 'lavfi'];
  }
}

/** The fd each output is written to: JPEG on pipe:1 (stdout), gray outputs from pipe:3 on, in `grays` order. */
export function grayPipe(index: number): number {
  return 3 + index;
}

/** Gray outputs of a capture, deduplicated and in pipe order (see grayPipe). Throws SourceConfigError like buildArgs. */
export function grayBoxes(o: CaptureOptions): Box[] {
  return normalise(o).grays;
}

/** Thumbnail widths of a capture in pipe order: they follow the gray outputs (pipe 3 + grays + i). */
export function thumbWidths(o: CaptureOptions): number[] {
  return normalise(o).thumbs;
}

/** Filter-graph pad labels a, b, c, …: the first outputs keep the names earlier versions used. */
function label(i: number): string {
  return String.fromCharCode(97 + i);
}

/** The argument array (never a shell string) for one persistent capture process. */
export function buildArgs(o: CaptureOptions): string[] {
  const n = normalise(o);
  if (n.passthrough) throw new SourceConfigError('A pass-through capture runs no FFmpeg');
  const plan = n.plan;
  const threads = n.decoderThreads > 0 ? ['-threads', String(n.decoderThreads)] : [];
  const args = [...GLOBAL_ARGS, ...(plan ? plan.inputArgs : n.hwaccelArgs), ...inputArgs(n, o.ffmpegVersion), ...threads, ...n.extraInputArgs, '-i', inputWithCredentials(n)];
  const fps = `fps=${n.fps}`;
  // The hardware plan scales on the GPU and brings frames back to memory; software scales here.
  const scale = plan ? plan.scaleChain(n.width ? { width: n.width } : undefined, 'yuv420p') : n.width ? `scale=${n.width}:-2` : undefined;
  const grayChain = (g: Box): string => plan
    ? plan.scaleChain(g, 'gray')
    // Luma only, averaged down (area): a third of the work of scaling all planes, and the averaging smooths sensor
    // noise before motion analysis. format=gray last keeps 8 bits when the source has 10.
    : `extractplanes=y,scale=w=${g.width}:h=${g.height}:force_original_aspect_ratio=decrease:flags=area,format=gray`;
  // Every n-th frame by its index after the fps filter, so the k-th JPEG is frame k*n of the gray outputs.
  const select = n.jpegEvery > 1 ? `select=not(mod(n\\,${n.jpegEvery}))` : undefined;
  // Every output takes exactly the frames its chain gives it: the n-th frame of each output is the same picture, which
  // pairing by index relies on. By default FFmpeg may duplicate frames per output to fill timestamp gaps: with a live
  // camera's start (timestamps far from zero) the gray output gained 10-16 frames the JPEG output did not, pairing
  // each JPEG with a picture a second and more away and holding gray frames back in bursts. Thinned JPEG outputs
  // (select) need it anyway, or the muxer fills the gaps they leave.
  const passthrough = versionBelow(o.ffmpegVersion, 5, 1) ? ['-vsync', 'passthrough'] : ['-fps_mode', 'passthrough'];
  // mpjpeg: every JPEG preceded by its Content-length, so the splitter never scans image bytes for markers.
  // Slice threads, not frame threads: the encoder's frame threading holds each JPEG back until later frames come
  // (about 150 ms at 10 fps; a whole still interval on a thinned output), slices parallelise without a delay.
  const jpegOut = [...passthrough, '-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p', '-q:v', String(n.quality), '-thread_type', 'slice',
    '-f', 'mpjpeg', '-boundary_tag', FFMPEG_BOUNDARY, 'pipe:1'];
  const jpegChain = [select, scale].filter((f) => f !== undefined && f !== 'null').join(',');
  if (n.grays.length === 0 && n.thumbs.length === 0) {
    args.push('-map', '0:v:0', '-vf', jpegChain ? `${fps},${jpegChain}` : fps, ...DROP_OTHER_STREAMS, ...jpegOut);
    return args;
  }
  const chains: string[] = [];
  if (n.jpeg) chains.push(jpegChain || 'null');
  for (const g of n.grays) chains.push(grayChain(g));
  for (const w of n.thumbs) {
    chains.push([select, plan ? plan.scaleChain({ width: w }, 'yuv420p') : `scale=${w}:-2`].filter((f) => f !== undefined).join(','));
  }
  const graph = chains.length === 1
    ? `[0:v]${fps},${chains[0]}[out1]`
    : `[0:v]${fps},split=${chains.length}${chains.map((_, i) => `[${label(i)}]`).join('')};` +
      chains.map((c, i) => `[${label(i)}]${c}[out${i + 1}]`).join(';');
  args.push('-filter_complex', graph);
  let out = 1;
  if (n.jpeg) args.push('-map', `[out${out++}]`, ...DROP_OTHER_STREAMS, ...jpegOut);
  n.grays.forEach((_, i) => {
    args.push('-map', `[out${out++}]`, ...DROP_OTHER_STREAMS, ...passthrough, '-c:v', 'pgm', '-f', 'image2pipe', `pipe:${grayPipe(i)}`);
  });
  n.thumbs.forEach((_, i) => {
    args.push('-map', `[out${out++}]`, ...DROP_OTHER_STREAMS, ...jpegOut.slice(0, -1), `pipe:${grayPipe(n.grays.length + i)}`);
  });
  return args;
}

function canonicalRest(rest: string): string {
  const q = rest.indexOf('?');
  const pathname = (q === -1 ? rest : rest.slice(0, q)) || '/';
  if (q === -1) return pathname;
  // Same parameters in another order address the same stream; a stable sort keeps repeated keys in order.
  const params = rest.slice(q + 1).split('&').filter((p) => p !== '');
  const sorted = params
    .map((p, i) => ({ p, i, k: p.split('=')[0]! }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.i - b.i))
    .map((x) => x.p);
  return sorted.length ? `${pathname}?${sorted.join('&')}` : pathname;
}

/**
 * A key under which two captures with the same source and output settings can share one process.
 * Credentials enter only as a keyed hash that is meaningful inside this process alone.
 */
export function sourceSignature(o: CaptureOptions): string {
  return signatureOf(normalise(o));
}

/**
 * The signature without outputs or hardware plan: two captures with the same base read the same pictures, so one
 * may take over from the other without a gap (make before break).
 */
export function baseSignature(o: CaptureOptions): string {
  return signatureOf(normalise({ ...o, gray: undefined, thumbs: undefined, jpeg: true, jpegEvery: 1, plan: undefined, hwaccelArgs: undefined }));
}

/** Where pass-through captures of one camera share a connection: the source and credentials, nothing else. */
export function connectionSignature(o: CaptureOptions): string {
  const n = normalise(o);
  return signatureOf(n).split('|').slice(0, 3).join('|');
}

function signatureOf(n: Normalised): string {
  const src = n.url ? `${n.url.scheme}://${hostPort(n.url)}${canonicalRest(n.url.rest)}` : n.input;
  const cred = n.user === undefined
    ? '-'
    : createHmac('sha256', SIGNATURE_KEY).update(`${n.user}\0${n.pass ?? ''}`).digest('hex').slice(0, 16);
  const parts = [
    n.kind, src, `cred=${cred}`, `fps=${n.fps}`, `w=${n.width ?? 0}`, `q=${n.quality}`,
    `loop=${n.loop ? 1 : 0}`, `re=${n.realtime ? 1 : 0}`,
    `gray=${n.grays.length ? n.grays.map(boxKey).join(',') : '-'}`,
    `jpeg=${n.jpeg ? n.jpegEvery : 0}`,
    `thumbs=${n.thumbs.join(',') || '-'}`,
    `hw=${n.plan ? n.plan.label : JSON.stringify(n.hwaccelArgs)}`, `extra=${JSON.stringify(n.extraInputArgs)}`,
    `pass=${n.passthrough ? 1 : 0}`,
    `threads=${n.decoderThreads}`,
  ];
  return parts.join('|');
}

/** The strings to pass to redact() for this capture: the password and user in clear and percent-encoded. */
export function secretsOf(o: CaptureOptions): string[] {
  const out = new Set<string>();
  const add = (s: string | undefined): void => {
    if (s) {
      out.add(s);
      out.add(encodeURIComponent(s));
    }
  };
  add(o.password);
  const m = typeof o.source === 'string' ? URL_RE.exec(o.source.trim()) : null;
  const authority = m?.[2] ?? '';
  const at = authority.lastIndexOf('@');
  if (at !== -1) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    if (colon !== -1) {
      const p = userinfo.slice(colon + 1);
      add(p);
      add(safeDecode(p));
    }
  }
  return [...out];
}

/**
 * Removes the given secrets (as given and percent-encoded), any userinfo in URLs and secret-looking query
 * parameters from text such as FFmpeg's stderr. Every non-empty secret is removed, however short.
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = String(text);
  const list = new Set<string>();
  for (const s of secrets) {
    if (typeof s === 'string' && s.length > 0) {
      list.add(s);
      list.add(encodeURIComponent(s));
    }
  }
  for (const s of [...list].sort((a, b) => b.length - a.length)) out = out.split(s).join(REDACTED);
  out = out.replace(USERINFO_RE, `$1${REDACTED}@`);
  out = out.replace(QUERY_SECRET_RE, `$1${REDACTED}`);
  return out;
}

/** The source without credentials, for logs and status. Never throws. */
export function displaySource(o: CaptureOptions): string {
  const secrets = o && typeof o.password === 'string' ? [o.password] : [];
  try {
    const n = normalise({ ...o, fps: 1, quality: MIN_QUALITY, width: undefined, gray: undefined, passthrough: false });
    const text = n.url ? `${n.url.scheme}://${hostPort(n.url)}${n.url.rest}` : n.kind === 'testsrc' ? `${TESTSRC_PREFIX}${n.input}` : n.input;
    return redact(text, secrets);
  } catch {
    return redact(typeof o?.source === 'string' ? o.source.trim() : '', secrets);
  }
}

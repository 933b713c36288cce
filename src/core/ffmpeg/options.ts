/**
 * What one capture process is asked to make (CaptureOptions), checked and normalised once: every setting a user
 * can get wrong is refused here with a SourceConfigError whose message never shows a password.
 */

import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DecodePlan } from './decode-plan';
import { redact } from './redact';
import { detectKind, displayRaw, hostPort, parseUrl, safeDecode, SourceConfigError, TESTSRC_PREFIX, URL_RE, type ParsedUrl, type SourceKind } from './source-url';

export interface Box {
  width: number;
  height: number;
}

/** A box as a short key ("240x180"): how outputs and the motion nodes that asked for them refer to each other. */
export function boxKey(box: Box): string {
  return `${box.width}x${box.height}`;
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

const MAX_FPS = 120;
export const MIN_QUALITY = 2;
const MAX_QUALITY = 31;
const MAX_DIMENSION = 16384;
const MIN_GRAY_DIMENSION = 8;
/** Distinct gray sizes one process makes at most: each is a pipe and a scaler. */
const MAX_GRAY_OUTPUTS = 4;
const MAX_JPEG_EVERY = 1000;
const MAX_THUMBS = 2;
const MIN_THUMB_WIDTH = 16;

/** Options after checking: what the argument builder and the signatures read. */
export interface Normalised {
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

/** Checks and normalises capture options; throws SourceConfigError with a message fit for the user. */
export function normalise(o: CaptureOptions): Normalised {
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

/** Gray outputs of a capture, deduplicated and in pipe order (see grayPipe). Throws SourceConfigError like buildArgs. */
export function grayBoxes(o: CaptureOptions): Box[] {
  return normalise(o).grays;
}

/** Thumbnail widths of a capture in pipe order: they follow the gray outputs (pipe 3 + grays + i). */
export function thumbWidths(o: CaptureOptions): number[] {
  return normalise(o).thumbs;
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

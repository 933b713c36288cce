/**
 * Splits a multipart JPEG stream into single JPEGs by each part's Content-Length, without looking at the JPEG
 * bytes in between. Two producers write this format: FFmpeg's `-f mpjpeg` muxer
 * (`--ffmpeg\r\nContent-type: image/jpeg\r\nContent-length: N\r\n\r\n<N bytes>\r\n--ffmpeg\r\n...`) and
 * cameras that serve MJPEG over HTTP as `multipart/x-mixed-replace` (boundary from the response's Content-Type).
 *
 * Why lengths instead of SOI/EOI markers: no per-byte scan of the image data, and a JPEG that embeds another
 * complete JPEG (an EXIF thumbnail in APP1) is delivered whole, where the first EOI would cut it short.
 *
 * A part whose N bytes are not a plausible JPEG (first two bytes FF D8, last two FF D9), a garbled header, or a
 * length over the cap is counted and reported, and the splitter resynchronises on the next delimiter line
 * (`\r\n--boundary`, or `--boundary` at the start of a line). A failed body is itself searched for a delimiter
 * first, so a Content-Length that claims too much loses only its own part. Parts without Content-Length (some
 * cameras) are split by SOI/EOI with a JpegSplitter up to the next delimiter, with that class's limits.
 *
 * Quirks of real cameras, recovered and counted in `quirks` (FFmpeg's output never shows them; the checks run
 * once per stream start or once per header line, never on image bytes):
 * - no delimiter before the first part: the stream opens with header lines, or with the JPEG itself;
 * - a Content-Type boundary that already starts with `--` and is written as declared (`--b`, not `----b`);
 * - a delimiter line repeated before the headers, or a blank line and then the delimiter.
 * Every part that yields no frame is counted once by kind in `errorsByKind`.
 *
 * A part inside one chunk is delivered as a `subarray` view of that chunk (no copy), which keeps the chunk alive
 * while a consumer holds the frame. A part spanning chunks is copied once into a Buffer of exactly its length,
 * allocated when its header has been read. Delivered buffers are never written again.
 */

import { JpegSplitter } from './jpeg-splitter';

/** FFmpeg's mpjpeg muxer default (`-boundary_tag`), the same in 4.x and 5.x. */
export const FFMPEG_BOUNDARY = 'ffmpeg';

const CR = 0x0d;
const LF = 0x0a;
const MARKER = 0xff;
const SOI_BYTE = 0xd8;
const EOI_BYTE = 0xd9;
const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** A JPEG is at least SOI + EOI. */
const MIN_FRAME_BYTES = 4;
/** The rest of a delimiter line plus all header lines of one part. Real parts use well under 200 bytes. */
const MAX_HEADER_BYTES = 8192;
/** RFC 2046 bchars; a boundary may contain spaces but not end with one. */
const BOUNDARY_RE = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;
const DIGITS_RE = /^[0-9]{1,15}$/;
/** The rest of a delimiter line: nothing, or `--` for the close delimiter, then optional transport padding. */
const DELIM_REST_RE = /^(--)?[ \t]*$/;

/** Looking for the next delimiter; bytes passed over are skipped (and counted). */
const SEEK = 0;
/** After `--boundary`, reading the rest of that line. */
const DELIM_LINE = 1;
/** Reading header lines up to the blank line. */
const HEADERS = 2;
/** Collecting the body of a part with a Content-Length. */
const BODY = 3;
/** A part without Content-Length: JPEGs split by SOI/EOI up to the next delimiter. */
const FALLBACK = 4;
/** The first line of a stream (after construction or reset()): a delimiter, a header, a JPEG, or a preamble. */
const START = 5;
type State = typeof SEEK | typeof DELIM_LINE | typeof HEADERS | typeof BODY | typeof FALLBACK | typeof START;

/** Why a part yielded no frame. */
export type PartErrorKind = 'not-jpeg' | 'truncated' | 'bad-header' | 'oversize';
/** Deviations from RFC 2046 that are recovered without losing a frame. */
export type QuirkKind = 'no-first-boundary' | 'boundary-dashes' | 'repeated-boundary' | 'boundary-from-stream';
/** A header line's name: an RFC 9110 token, then the colon (with or without a space after it). */
const HEADER_LINE_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:/;

export interface MultipartJpegSplitterOptions {
  onFrame: (jpeg: Buffer) => void;
  /** The multipart boundary without the leading `--`. Default 'ffmpeg' (FFmpeg's mpjpeg muxer). */
  boundary?: string;
  /**
   * The response declared no boundary: take it from the stream's first line (`--<boundary>`) instead. `boundary`
   * is then used only if that line is not a delimiter.
   */
  boundaryFromStream?: boolean;
  /** Parts larger than this are dropped without being buffered. Default 16 MiB. */
  maxFrameBytes?: number;
  /** Called once per dropped part with its size (declared, or seen so far for parts without Content-Length). */
  onOversize?: (bytes: number) => void;
  /** Called once per bad part (not a JPEG, truncated, garbled header) with a short reason and its kind. */
  onError?: (message: string, kind: PartErrorKind) => void;
  /** Called once per quirk recovered from (no frame lost). */
  onQuirk?: (kind: QuirkKind) => void;
}

export interface MultipartJpegSplitterStats {
  frames: number;
  /**
   * Bytes that never became a frame, apart from the delimiters and headers of parts that parsed: garbage between
   * parts, bodies of bad or oversize parts, headers that did not parse, partial parts cut by reset().
   */
  skippedBytes: number;
  oversizeFrames: number;
  /** Bad parts reported through onError. */
  errors: number;
  /** Parts without Content-Length, split by SOI/EOI. */
  fallbackParts: number;
}

/** The boundary parameter of a `multipart/...; boundary=...` Content-Type value, unquoted; undefined if absent. */
export function boundaryFromContentType(value: string): string | undefined {
  const m = /;\s*boundary\s*=\s*(?:"([^"]*)"|([^;\s]+))/i.exec(value);
  const b = m?.[1] ?? m?.[2];
  return b === undefined || b === '' ? undefined : b;
}

export class MultipartJpegSplitter {
  readonly stats: MultipartJpegSplitterStats = { frames: 0, skippedBytes: 0, oversizeFrames: 0, errors: 0, fallbackParts: 0 };
  /** Parts that yielded no frame, by kind (oversize included; `stats.errors` counts the others). */
  readonly errorsByKind: Record<PartErrorKind, number> = { 'not-jpeg': 0, truncated: 0, 'bad-header': 0, oversize: 0 };
  /** Quirks recovered from, by kind. */
  readonly quirks: Record<QuirkKind, number> = { 'no-first-boundary': 0, 'boundary-dashes': 0, 'repeated-boundary': 0, 'boundary-from-stream': 0 };

  private readonly onFrame: (jpeg: Buffer) => void;
  private readonly onOversize: ((bytes: number) => void) | undefined;
  private readonly onError: ((message: string, kind: PartErrorKind) => void) | undefined;
  private readonly onQuirk: ((kind: QuirkKind) => void) | undefined;
  private boundaryFromStream: boolean;
  private readonly maxFrameBytes: number;
  /** The boundary in use: as given, or as the stream writes it when that differs only by a leading `--`. */
  private currentBoundary: string;
  /** `\r\n--boundary`. Its first byte (CR) occurs nowhere else in it, which findDelimiter relies on. */
  private delim: Buffer;

  private state: State = SEEK;
  /** Bytes of the delimiter matched at the end of data already consumed (SEEK and FALLBACK). */
  private held = 0;
  /**
   * How many of the `held` bytes were never in the stream: at a line start (stream start, after a line or a
   * body) the delimiter's CRLF is taken as given, so `--boundary` there is a delimiter too.
   */
  private heldVirtual = 0;
  /** Header text of the current line so far (DELIM_LINE, HEADERS). */
  private line = '';
  /** Bytes of the current part's delimiter-line rest and headers consumed so far. */
  private headerBytes = 0;
  private contentLength = -1;
  /** BODY: the part's buffer when it spans chunks, and how much of it is filled. */
  private body: Buffer | undefined;
  private filled = 0;
  /** Set by a step that wants the given bytes searched for a delimiter before the current chunk goes on. */
  private rescan: Buffer | undefined;
  private fallback: JpegSplitter | undefined;
  /** stats.frames, skippedBytes and oversizeFrames when the current fallback part began. */
  private partFrames = 0;
  private partSkipped = 0;
  private partOversize = 0;

  constructor(opts: MultipartJpegSplitterOptions) {
    if (typeof opts.onFrame !== 'function') throw new TypeError('MultipartJpegSplitter: onFrame must be a function');
    const max = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isFinite(max) || max < MIN_FRAME_BYTES) {
      throw new RangeError(`MultipartJpegSplitter: maxFrameBytes must be a number >= ${MIN_FRAME_BYTES}`);
    }
    const boundary = opts.boundary ?? FFMPEG_BOUNDARY;
    if (typeof boundary !== 'string' || !BOUNDARY_RE.test(boundary)) {
      throw new RangeError(`MultipartJpegSplitter: invalid boundary ${JSON.stringify(boundary)}`);
    }
    this.onFrame = opts.onFrame;
    this.onOversize = opts.onOversize;
    this.onError = opts.onError;
    this.onQuirk = opts.onQuirk;
    this.boundaryFromStream = opts.boundaryFromStream === true;
    this.maxFrameBytes = Math.floor(max);
    this.currentBoundary = boundary;
    this.delim = Buffer.from(`\r\n--${boundary}`, 'latin1');
    this.startStream();
  }

  /** The multipart boundary without the leading `--`, as the stream writes it. */
  get boundary(): string {
    return this.currentBoundary;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    // A failed body is searched before the rest of its chunk; a stack (not recursion) bounds hostile nesting.
    const work: Array<[Buffer, number]> = [[chunk, 0]];
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      const pos = this.run(top[0], top[1]);
      const again = this.rescan;
      if (again === undefined) {
        work.pop();
      } else {
        this.rescan = undefined;
        top[1] = pos;
        work.push([again, 0]);
      }
    }
  }

  /**
   * Drops any partial part, e.g. after the producing process restarted or a connection dropped. The next data
   * starts a new stream. Returns true when that cut a JPEG short (its bytes had begun to arrive); the caller
   * decides whether that is an error (a restart it asked for is not), so it is not counted here.
   */
  reset(): boolean {
    let partial = this.headerBytes;
    let cut = false;
    if (this.state === BODY) {
      partial += this.filled;
      cut = this.filled > 0;
    }
    if (this.state === SEEK) partial += this.held - this.heldVirtual;
    // In FALLBACK the held bytes may be a delimiter start; they never reached the inner splitter.
    if (this.state === FALLBACK) partial += this.held;
    this.stats.skippedBytes += partial;
    if (this.fallback) cut = this.innerReset() || cut;
    this.body = undefined;
    this.rescan = undefined;
    this.startStream();
    return cut;
  }

  /** Consumes `buf` from `pos` until its end or until a rescan is requested; returns where it stopped. */
  private run(buf: Buffer, pos: number): number {
    const len = buf.length;
    while (pos < len) {
      switch (this.state) {
        case SEEK: {
          const end = this.findDelimiter(buf, pos, true);
          if (end === -1) return len;
          this.state = DELIM_LINE;
          this.line = '';
          this.headerBytes = 0;
          pos = end;
          break;
        }
        case DELIM_LINE:
        case HEADERS:
          pos = this.readLine(buf, pos);
          break;
        case START:
          pos = this.readFirstLine(buf, pos);
          break;
        case BODY: {
          pos = this.readBody(buf, pos);
          if (this.rescan !== undefined) return pos;
          break;
        }
        case FALLBACK: {
          const end = this.findDelimiter(buf, pos, false);
          if (end === -1) return len;
          this.endFallbackPart();
          this.state = DELIM_LINE;
          this.line = '';
          this.headerBytes = 0;
          pos = end;
          break;
        }
      }
    }
    return pos;
  }

  /**
   * Searches `buf` from `pos` for the delimiter, continuing a match held from earlier data. Bytes found not to
   * belong to a delimiter are skipped (`skip`) or handed to the fallback splitter. Returns the index right after
   * the delimiter, or -1 when `buf` is used up (its last bytes may be held as a partial match).
   */
  private findDelimiter(buf: Buffer, pos: number, skip: boolean): number {
    const d = this.delim;
    const dl = d.length;
    const len = buf.length;
    if (this.held > 0) {
      const held = this.held;
      let i = 0;
      while (held + i < dl && pos + i < len && buf[pos + i] === d[held + i]) i++;
      if (held + i === dl) {
        this.held = 0;
        this.heldVirtual = 0;
        return pos + i;
      }
      if (pos + i === len) {
        this.held = held + i;
        return -1;
      }
      // Not a delimiter after all: the held bytes were data. The bytes of buf matched so far hold no CR,
      // so the search below may start at pos as well.
      const real = held - this.heldVirtual;
      this.held = 0;
      this.heldVirtual = 0;
      if (real > 0) {
        if (skip) this.stats.skippedBytes += real;
        else this.innerPush(d.subarray(0, real));
      }
    }
    const at = buf.indexOf(d, pos);
    if (at !== -1) {
      if (at > pos) {
        if (skip) this.stats.skippedBytes += at - pos;
        else this.innerPush(buf.subarray(pos, at));
      }
      return at + dl;
    }
    // Hold a partial delimiter at the end. Only the last CR can start one: CR occurs once in the delimiter.
    let k = 0;
    for (let j = len - 1; j >= pos && j > len - dl; j--) {
      if (buf[j] === CR) {
        if (buf.compare(d, 0, len - j, j, len) === 0) k = len - j;
        break;
      }
    }
    this.held = k;
    if (len - k > pos) {
      if (skip) this.stats.skippedBytes += len - k - pos;
      else this.innerPush(buf.subarray(pos, len - k));
    }
    return -1;
  }

  /** Reads one (part of a) line of the delimiter line's rest or the headers; returns where it stopped. */
  private readLine(buf: Buffer, pos: number): number {
    const len = buf.length;
    const nl = buf.indexOf(LF, pos);
    const end = nl === -1 ? len : nl + 1;
    if (this.headerBytes + end - pos > MAX_HEADER_BYTES) {
      this.badPart(`part header longer than ${MAX_HEADER_BYTES} bytes`, 'bad-header');
      // The search goes on from here, so a delimiter right after the long line is found; a CR already taken
      // into the line may start it.
      const cr = this.line.charCodeAt(this.line.length - 1) === CR ? 1 : 0;
      this.stats.skippedBytes += this.headerBytes - cr;
      this.seekFromHere();
      this.held = cr;
      return pos;
    }
    this.headerBytes += end - pos;
    this.line += buf.toString('latin1', pos, nl === -1 ? len : nl);
    if (nl === -1) return len;
    let text = this.line;
    this.line = '';
    if (text.charCodeAt(text.length - 1) === CR) text = text.slice(0, -1);
    if (this.state === DELIM_LINE) {
      if (!DELIM_REST_RE.test(text)) {
        // `--boundaryX...`: a longer boundary, not ours.
        this.stats.skippedBytes += this.headerBytes;
        this.seekAtLineStart();
      } else if (text.startsWith('--')) {
        // Close delimiter: whatever follows is a new stream (or epilogue).
        this.seekAtLineStart();
      } else {
        this.state = HEADERS;
        this.contentLength = -1;
      }
      return end;
    }
    if (text === '') {
      this.endOfHeaders();
      return end;
    }
    this.headerLine(text);
    return end;
  }

  /** One header line of a part (not the blank line that ends them). */
  private headerLine(text: string): void {
    const colon = text.indexOf(':');
    if (colon <= 0) {
      if (text.charCodeAt(0) === 0x2d && text.startsWith(this.currentBoundary, 2) && DELIM_REST_RE.test(text.slice(2 + this.currentBoundary.length))) {
        this.repeatedDelimiter(text);
        return;
      }
      this.garbled(`garbled part header ${JSON.stringify(text.slice(0, 40))}`);
      return;
    }
    const name = text.slice(0, colon).trim().toLowerCase();
    if (name === 'content-length') {
      const value = text.slice(colon + 1).trim();
      const n = DIGITS_RE.test(value) ? Number(value) : -1;
      if (n < 0 || (this.contentLength !== -1 && this.contentLength !== n)) {
        this.garbled(`bad Content-Length ${JSON.stringify(value.slice(0, 40))}`);
        return;
      }
      this.contentLength = n;
    }
  }

  /**
   * A delimiter line where a header was expected. The part so far had no body, so nothing is lost: its header
   * lines (if any) are dropped and the new part's headers follow. A close delimiter ends the stream as usual.
   */
  private repeatedDelimiter(text: string): void {
    this.quirk('repeated-boundary');
    if (text.startsWith('--', 2 + this.currentBoundary.length)) {
      this.seekAtLineStart();
      return;
    }
    this.contentLength = -1;
    this.headerBytes = 0;
  }

  /**
   * START: the first line of a stream decides how it opens. `--boundary` (RFC 2046) or, when the declared
   * boundary starts with `--`, the boundary as declared; a header line (no delimiter before the first part);
   * FF D8 (a bare JPEG before the first delimiter); or anything else, a preamble that is skipped. Blank lines
   * before the first delimiter are passed over. The line is bounded like a part header.
   */
  private readFirstLine(buf: Buffer, pos: number): number {
    const len = buf.length;
    if (this.line.length < 2) {
      const b0 = this.line.length === 1 ? this.line.charCodeAt(0) : buf[pos]!;
      if (b0 === MARKER) {
        const b1 = this.line.length === 1 ? buf[pos] : buf[pos + 1];
        if (b1 === undefined) {
          this.line += '\xff';
          this.headerBytes += 1;
          return len;
        }
        if (b1 === SOI_BYTE) return this.bareJpegAtStart(pos);
      }
    }
    const nl = buf.indexOf(LF, pos);
    const end = nl === -1 ? len : nl + 1;
    if (this.headerBytes + end - pos > MAX_HEADER_BYTES) {
      // A preamble line this long is not one we can read: search for the delimiter from here. A CR already taken
      // into the line may start it.
      const cr = this.line.charCodeAt(this.line.length - 1) === CR ? 1 : 0;
      this.stats.skippedBytes += this.headerBytes - cr;
      this.seekFromHere();
      this.held = cr;
      return pos;
    }
    this.headerBytes += end - pos;
    this.line += buf.toString('latin1', pos, nl === -1 ? len : nl);
    if (nl === -1) return len;
    let text = this.line;
    this.line = '';
    const hadCr = text.charCodeAt(text.length - 1) === CR;
    if (hadCr) text = text.slice(0, -1);
    if (text === '') return end;
    const b = this.currentBoundary;
    if (text.startsWith('--')) {
      if (text.startsWith(b, 2) && DELIM_REST_RE.test(text.slice(2 + b.length)) && !text.startsWith('--', 2 + b.length)) {
        this.beginHeaders();
        return end;
      }
      // Declared `--b`, written `--b` (the RFC wants `----b`): the stream's own spelling wins from here on.
      if (b.startsWith('--') && text.startsWith(b) && /^[ \t]*$/.test(text.slice(b.length))) {
        this.quirk('boundary-dashes');
        this.useBoundary(b.slice(2));
        return end;
      }
      const named = text.slice(2).replace(/[ \t]+$/, '');
      if (this.boundaryFromStream && BOUNDARY_RE.test(named) && !named.endsWith('--')) {
        this.quirk('boundary-from-stream');
        this.useBoundary(named);
        return end;
      }
    } else if (HEADER_LINE_RE.test(text)) {
      this.quirk('no-first-boundary');
      this.beginHeaders();
      this.headerLine(text);
      return end;
    }
    // A preamble. Its CRLF may begin the first delimiter: the search goes on from the CR.
    if (!hadCr) {
      this.stats.skippedBytes += this.headerBytes;
      this.seekAtLineStart();
      return end;
    }
    this.stats.skippedBytes += this.headerBytes - 2;
    this.seekFromHere();
    if (nl > pos) return nl - 1;
    this.held = 1;
    return nl;
  }

  /** The stream opens with a JPEG and no delimiter: split it by SOI/EOI up to the first delimiter. */
  private bareJpegAtStart(pos: number): number {
    this.quirk('no-first-boundary');
    const taken = this.line;
    // Blank lines before it were passed over; they belong to no part.
    this.stats.skippedBytes += this.headerBytes - taken.length;
    this.line = '';
    this.headerBytes = 0;
    this.beginFallback();
    if (taken !== '') this.innerPush(Buffer.from(taken, 'latin1'));
    return pos;
  }

  private useBoundary(boundary: string): void {
    this.currentBoundary = boundary;
    this.delim = Buffer.from(`\r\n--${boundary}`, 'latin1');
    this.boundaryFromStream = false;
    this.beginHeaders();
  }

  private beginHeaders(): void {
    this.state = HEADERS;
    this.contentLength = -1;
    this.headerBytes = 0;
  }

  private endOfHeaders(): void {
    const n = this.contentLength;
    this.headerBytes = 0;
    if (n === -1) {
      this.beginFallback();
      // The blank line ended a line: `--boundary` right after it is a delimiter (an empty part).
      this.held = 2;
      this.heldVirtual = 2;
      return;
    }
    if (n > this.maxFrameBytes) {
      this.stats.oversizeFrames += 1;
      this.errorsByKind.oversize += 1;
      // The body is skipped by the delimiter search, which counts it.
      this.seekFromHere();
      this.onOversize?.(n);
      return;
    }
    if (n < MIN_FRAME_BYTES) {
      this.badPart(`Content-Length ${n} is too small for a JPEG`, 'bad-header');
      this.seekFromHere();
      return;
    }
    this.state = BODY;
    this.body = undefined;
    this.filled = 0;
  }

  private readBody(buf: Buffer, pos: number): number {
    const n = this.contentLength;
    const len = buf.length;
    let body = this.body;
    if (body === undefined) {
      if (len - pos >= n) {
        // The common case when chunks are larger than frames: a view, no copy.
        const end = pos + n;
        if (buf[pos] === MARKER && buf[pos + 1] === SOI_BYTE && buf[end - 2] === MARKER && buf[end - 1] === EOI_BYTE) {
          this.deliver(buf.subarray(pos, end));
          return end;
        }
        this.failBody(buf.subarray(pos, end));
        return end;
      }
      if (len - pos >= 2 && !(buf[pos] === MARKER && buf[pos + 1] === SOI_BYTE)) {
        // Not a JPEG: don't buffer up to n bytes of it.
        this.failBody(buf.subarray(pos, len));
        return len;
      }
      body = Buffer.allocUnsafeSlow(n);
      this.body = body;
      this.filled = 0;
    }
    const take = Math.min(n - this.filled, len - pos);
    buf.copy(body, this.filled, pos, pos + take);
    const before = this.filled;
    this.filled += take;
    pos += take;
    if (before < 2 && this.filled >= 2 && !(body[0] === MARKER && body[1] === SOI_BYTE)) {
      const seen = body.subarray(0, this.filled);
      this.body = undefined;
      this.failBody(seen);
      return pos;
    }
    if (this.filled < n) return pos;
    this.body = undefined;
    if (body[n - 2] === MARKER && body[n - 1] === EOI_BYTE) this.deliver(body);
    else this.failBody(body);
    return pos;
  }

  /** A body that is not a JPEG: report it and search it for the next delimiter before going on. */
  private failBody(bytes: Buffer): void {
    // It began like a JPEG but did not end like one: cut short, or a Content-Length that does not match.
    if (bytes.length >= 2 && bytes[0] === MARKER && bytes[1] === SOI_BYTE) {
      this.badPart(`part of ${this.contentLength} bytes is not a JPEG (no end marker: truncated or a wrong Content-Length)`, 'truncated');
    } else {
      this.badPart(`part of ${this.contentLength} bytes is not a JPEG`, 'not-jpeg');
    }
    this.state = SEEK;
    this.held = 0;
    this.heldVirtual = 0;
    this.rescan = bytes;
  }

  private deliver(frame: Buffer): void {
    // State first: an exception from onFrame leaves the splitter consistent.
    this.seekAtLineStart();
    this.stats.frames += 1;
    this.onFrame(frame);
  }

  private garbled(message: string): void {
    this.badPart(message, 'bad-header');
    this.stats.skippedBytes += this.headerBytes;
    this.seekAtLineStart();
  }

  private badPart(message: string, kind: PartErrorKind): void {
    this.stats.errors += 1;
    this.errorsByKind[kind] += 1;
    this.onError?.(message, kind);
  }

  private quirk(kind: QuirkKind): void {
    this.quirks[kind] += 1;
    this.onQuirk?.(kind);
  }

  private startStream(): void {
    this.state = START;
    this.line = '';
    this.headerBytes = 0;
    this.held = 0;
    this.heldVirtual = 0;
  }

  private beginFallback(): void {
    this.stats.fallbackParts += 1;
    this.state = FALLBACK;
    this.held = 0;
    this.heldVirtual = 0;
    this.partFrames = this.stats.frames;
    this.partSkipped = this.stats.skippedBytes;
    this.partOversize = this.stats.oversizeFrames;
  }

  /**
   * A part without Content-Length ended at a delimiter: a JPEG still open in it was cut short; a part that
   * yielded nothing but bytes that are not a JPEG is reported as such (an oversize one was reported already).
   */
  private endFallbackPart(): void {
    if (this.innerReset()) {
      this.badPart('part without Content-Length ends inside a JPEG (truncated)', 'truncated');
    } else if (this.stats.frames === this.partFrames && this.stats.oversizeFrames === this.partOversize &&
      this.stats.skippedBytes > this.partSkipped) {
      this.badPart(`part of ${this.stats.skippedBytes - this.partSkipped} bytes without Content-Length holds no JPEG`, 'not-jpeg');
    }
  }

  private seekAtLineStart(): void {
    this.state = SEEK;
    this.line = '';
    this.headerBytes = 0;
    this.held = 2;
    this.heldVirtual = 2;
  }

  private seekFromHere(): void {
    this.state = SEEK;
    this.line = '';
    this.headerBytes = 0;
    this.held = 0;
    this.heldVirtual = 0;
  }

  private innerPush(bytes: Buffer): void {
    const inner = (this.fallback ??= new JpegSplitter({
      onFrame: (jpeg) => {
        this.stats.frames += 1;
        this.onFrame(jpeg);
      },
      maxFrameBytes: this.maxFrameBytes,
      onOversize: (bytes) => {
        this.stats.oversizeFrames += 1;
        this.errorsByKind.oversize += 1;
        this.onOversize?.(bytes);
      },
    }));
    const before = inner.stats.skippedBytes;
    try {
      inner.push(bytes);
    } finally {
      this.stats.skippedBytes += inner.stats.skippedBytes - before;
    }
  }

  /** The part ended: a JPEG still open in it is incomplete. Returns true if one was (at least its SOI). */
  private innerReset(): boolean {
    const inner = this.fallback;
    if (!inner) return false;
    const before = inner.stats.skippedBytes;
    inner.reset();
    const dropped = inner.stats.skippedBytes - before;
    this.stats.skippedBytes += dropped;
    // Outside a frame only a lone FF (1 byte) can be pending; a frame in progress holds at least its SOI.
    return dropped >= 2;
  }
}

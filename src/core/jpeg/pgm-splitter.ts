/**
 * Splits FFmpeg's `-f image2pipe -c:v pgm` output (binary PGM "P5" images back to back) into raw 8-bit gray
 * rasters. Header per the netpbm spec: "P5", whitespace, width, whitespace, height, whitespace, maxval, exactly
 * one whitespace byte, then width*height bytes; whitespace is space, TAB, CR, LF, VT or FF, and a '#' starts a
 * comment that runs to the next CR or LF. Only maxval 255 is accepted (what FFmpeg writes for `format=gray`).
 *
 * The raster is delivered as a `subarray` view when it lies in one chunk (no copy), else it is copied once with
 * `Buffer.concat`. A syntactically broken header or garbage is reported through onError and the splitter
 * resynchronises on the next "P5"; a well-formed header whose image is refused (maxval other than 255, or over
 * maxFrameBytes) is reported and its raster skipped exactly, so the stream stays in step.
 */

const P = 0x50;
const FIVE = 0x35;
const HASH = 0x23;
const LF = 0x0a;
const CR = 0x0d;
const ZERO = 0x30;
const NINE = 0x39;
const MAGIC = Buffer.from([P, FIVE]);
const MAGIC_P = Buffer.from([P]);
const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** A header longer than this (comments included) is treated as garbage rather than buffered without end. */
const MAX_HEADER_BYTES = 1024;
/** Digits in one header number: more than this cannot be a sane image size. */
const MAX_DIGITS = 7;
const SUPPORTED_MAXVAL = 255;

function isSpace(b: number): boolean {
  // space, TAB, LF, VT, FF, CR
  return b === 0x20 || (b >= 0x09 && b <= 0x0d);
}

type HeaderResult =
  | { kind: 'more' }
  | { kind: 'bad'; message: string }
  | { kind: 'ok'; width: number; height: number; maxval: number; next: number };

const MORE: HeaderResult = { kind: 'more' };

/** Parses a header starting at buf[start] === 'P', reading at most MAX_HEADER_BYTES. */
function parseHeader(buf: Buffer, start: number): HeaderResult {
  const end = Math.min(buf.length, start + MAX_HEADER_BYTES);
  let i = start + 2; // past "P5"
  if (i > end) return MORE;
  if (buf[start + 1] !== FIVE) return { kind: 'bad', message: 'not a binary PGM (expected "P5")' };
  const values: number[] = [];
  const names = ['width', 'height', 'maxval'];
  while (values.length < 3) {
    // Whitespace and comments before each number; at least one separator.
    const sepStart = i;
    for (;;) {
      if (i >= end) return MORE;
      const b = buf[i]!;
      if (b === HASH) {
        while (i < end && buf[i] !== LF && buf[i] !== CR) i++;
        if (i >= end) return MORE;
      } else if (isSpace(b)) {
        i++;
      } else {
        break;
      }
    }
    if (i === sepStart) {
      return { kind: 'bad', message: `bad PGM header: no whitespace before ${names[values.length]}` };
    }
    let n = 0;
    const digitsStart = i;
    while (i < end && buf[i]! >= ZERO && buf[i]! <= NINE) {
      n = n * 10 + (buf[i]! - ZERO);
      i++;
      if (i - digitsStart > MAX_DIGITS) return { kind: 'bad', message: `bad PGM header: ${names[values.length]} too large` };
    }
    if (i >= end) return MORE;
    if (i === digitsStart) {
      return { kind: 'bad', message: `bad PGM header: expected a number for ${names[values.length]}, got byte 0x${buf[i]!.toString(16).padStart(2, '0')}` };
    }
    values.push(n);
  }
  // Exactly one whitespace byte ends the header.
  if (i >= end) return MORE;
  if (!isSpace(buf[i]!)) return { kind: 'bad', message: 'bad PGM header: maxval not followed by whitespace' };
  const [width, height, maxval] = values as [number, number, number];
  if (width === 0 || height === 0) return { kind: 'bad', message: `bad PGM header: empty image ${width}x${height}` };
  if (maxval === 0 || maxval > 65535) return { kind: 'bad', message: `bad PGM header: maxval ${maxval} out of range 1..65535` };
  return { kind: 'ok', width, height, maxval, next: i + 1 };
}

export interface PgmSplitterOptions {
  onFrame: (data: Buffer, width: number, height: number) => void;
  /** Rasters (width*height bytes) larger than this are skipped. Default 16 MiB. */
  maxFrameBytes?: number;
  /** A clear message for garbage, a bad header or a refused image; at most one per run of trouble (until the next good frame). */
  onError?: (message: string) => void;
}

export interface PgmSplitterStats {
  frames: number;
  /** Bytes that never became a frame: garbage, bad or refused headers and their rasters, partial frames cut by reset(). */
  skippedBytes: number;
  oversizeFrames: number;
  /** Garbage runs, bad headers and refused images seen. */
  errors: number;
}

const enum State {
  /** Looking for "P5". */
  Seek,
  /** Inside a header that started in an earlier chunk; its bytes are in `carry`. */
  Header,
  /** Collecting `remaining` raster bytes of a `width` x `height` image. */
  Data,
  /** Skipping `remaining` raster bytes of a refused image. */
  Skip,
}

export class PgmSplitter {
  readonly stats: PgmSplitterStats = { frames: 0, skippedBytes: 0, oversizeFrames: 0, errors: 0 };

  private readonly onFrame: (data: Buffer, width: number, height: number) => void;
  private readonly onError: ((message: string) => void) | undefined;
  private readonly maxFrameBytes: number;

  private state = State.Seek;
  private carry: Buffer = MAGIC_P;
  private parts: Buffer[] = [];
  private collected = 0;
  private remaining = 0;
  private width = 0;
  /** Header size of the image being collected, counted as skipped if reset() cuts it. */
  private headerBytes = 0;
  private height = 0;
  /** The previous chunk ended in 'P' while seeking: maybe the start of "P5". Not yet counted as skipped. */
  private pendingP = false;
  /** Set after reporting trouble; cleared by the next good frame, so a long garbage run reports once. */
  private troubleReported = false;

  constructor(opts: PgmSplitterOptions) {
    if (typeof opts.onFrame !== 'function') throw new TypeError('PgmSplitter: onFrame must be a function');
    const max = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isFinite(max) || max < 1) throw new RangeError('PgmSplitter: maxFrameBytes must be a number >= 1');
    this.onFrame = opts.onFrame;
    this.onError = opts.onError;
    this.maxFrameBytes = Math.floor(max);
  }

  push(chunk: Buffer): void {
    const len = chunk.length;
    if (len === 0) return;
    let pos = 0;

    if (this.pendingP) {
      this.pendingP = false;
      if (chunk[0] === FIVE) {
        this.state = State.Header;
        this.carry = MAGIC_P;
      } else {
        this.garbage(1);
      }
    }

    if (this.state === State.Header) {
      const carry = this.carry;
      const joined = Buffer.concat([carry, chunk.subarray(0, MAX_HEADER_BYTES)]);
      const r = parseHeader(joined, 0);
      if (r.kind === 'ok') {
        pos = this.beginImage(r, r.next, r.next - carry.length);
      } else if (r.kind === 'more' && joined.length < MAX_HEADER_BYTES) {
        this.carry = joined;
        return;
      } else {
        // Drop the 'P' that started the bad header and rescan the rest of the carried bytes, then this chunk.
        this.badHeader(r.kind === 'bad' ? r.message : `bad PGM header: longer than ${MAX_HEADER_BYTES} bytes`, 1);
        if (carry.length > 1) this.push(carry.subarray(1));
        this.push(chunk);
        return;
      }
    }

    while (pos < len) {
      switch (this.state) {
        case State.Data: {
          const avail = len - pos;
          if (this.collected === 0 && avail >= this.remaining) {
            const end = pos + this.remaining;
            this.deliver(chunk.subarray(pos, end));
            pos = end;
          } else if (avail >= this.remaining) {
            const end = pos + this.remaining;
            this.parts.push(chunk.subarray(pos, end));
            this.collected += this.remaining;
            const data = Buffer.concat(this.parts, this.collected);
            this.parts = [];
            this.collected = 0;
            this.deliver(data);
            pos = end;
          } else {
            this.parts.push(pos === 0 ? chunk : chunk.subarray(pos));
            this.collected += avail;
            this.remaining -= avail;
            return;
          }
          break;
        }
        case State.Skip: {
          const n = Math.min(this.remaining, len - pos);
          this.stats.skippedBytes += n;
          this.remaining -= n;
          pos += n;
          if (this.remaining === 0) this.state = State.Seek;
          break;
        }
        default: {
          const at = chunk.indexOf(MAGIC, pos);
          if (at === -1) {
            const tailP = chunk[len - 1] === P;
            const garbage = len - pos - (tailP ? 1 : 0);
            if (garbage > 0) this.garbage(garbage);
            this.pendingP = tailP;
            return;
          }
          if (at > pos) this.garbage(at - pos);
          const r = parseHeader(chunk, at);
          if (r.kind === 'ok') {
            pos = this.beginImage(r, r.next - at, r.next);
          } else if (r.kind === 'more' && len - at < MAX_HEADER_BYTES) {
            this.state = State.Header;
            this.carry = Buffer.from(chunk.subarray(at));
            return;
          } else {
            this.badHeader(r.kind === 'bad' ? r.message : `bad PGM header: longer than ${MAX_HEADER_BYTES} bytes`, 1);
            pos = at + 1;
          }
        }
      }
    }
  }

  /** Drops any partial image, e.g. after the producing process restarted. */
  reset(): void {
    if (this.state === State.Header) this.stats.skippedBytes += this.carry.length;
    if (this.state === State.Data) this.stats.skippedBytes += this.headerBytes + this.collected;
    if (this.pendingP) this.stats.skippedBytes += 1;
    this.state = State.Seek;
    this.carry = MAGIC_P;
    this.parts = [];
    this.collected = 0;
    this.remaining = 0;
    this.pendingP = false;
    this.troubleReported = false;
  }

  /** A complete header of `headerBytes` was parsed; the raster starts at `from` in the current chunk. Returns `from`. */
  private beginImage(h: { width: number; height: number; maxval: number }, headerBytes: number, from: number): number {
    const bytes = h.width * h.height * (h.maxval > 255 ? 2 : 1);
    if (h.maxval !== SUPPORTED_MAXVAL || bytes > this.maxFrameBytes) {
      if (bytes > this.maxFrameBytes) this.stats.oversizeFrames += 1;
      this.report(h.maxval !== SUPPORTED_MAXVAL
        ? `PGM maxval ${h.maxval} not supported (need ${SUPPORTED_MAXVAL}); image ${h.width}x${h.height} skipped`
        : `PGM image ${h.width}x${h.height} (${bytes} bytes) exceeds the ${this.maxFrameBytes}-byte limit; skipped`);
      this.stats.skippedBytes += headerBytes;
      this.state = State.Skip;
      this.remaining = bytes;
      return from;
    }
    this.state = State.Data;
    this.headerBytes = headerBytes;
    this.width = h.width;
    this.height = h.height;
    this.remaining = bytes;
    this.collected = 0;
    return from;
  }

  private deliver(data: Buffer): void {
    this.state = State.Seek;
    this.remaining = 0;
    this.troubleReported = false;
    this.stats.frames += 1;
    this.onFrame(data, this.width, this.height);
  }

  private garbage(bytes: number): void {
    this.stats.skippedBytes += bytes;
    this.report('unexpected data in PGM stream (expected a "P5" header); resynchronising on the next "P5"');
  }

  private badHeader(message: string, skipped: number): void {
    this.state = State.Seek;
    this.carry = MAGIC_P;
    this.stats.skippedBytes += skipped;
    this.report(`${message}; resynchronising on the next "P5"`);
  }

  private report(message: string): void {
    this.stats.errors += 1;
    if (this.troubleReported) return;
    this.troubleReported = true;
    this.onError?.(message);
  }
}

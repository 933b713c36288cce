import { FFMPEG_BOUNDARY, MultipartJpegSplitter } from '../jpeg/multipart-splitter';
import { PgmSplitter } from '../jpeg/pgm-splitter';
import type { Box } from '../ffmpeg/options';
import { grayPipe } from '../ffmpeg/args';
import type { GrayFrame } from '../types';

/**
 * What one process made of one decoded frame: the JPEG (when this frame index carries one) and one gray frame per
 * gray output, in the capture's `boxes` order. Views into FFmpeg's chunks, never copied, never mutated.
 */
export interface CapturedFrame {
  /** Index of the frame after the fps filter, counted from 0 for each process start. */
  readonly index: number;
  /** Epoch ms at which the last of its outputs arrived. */
  readonly time: number;
  readonly jpeg: Buffer | undefined;
  readonly gray: readonly (GrayFrame | undefined)[];
  /** Thumbnail JPEGs, in the capture's `thumbs` order (present with the main JPEG). */
  readonly thumbs?: readonly (Buffer | undefined)[];
}

interface Slot {
  jpeg: Buffer | undefined;
  gray: (GrayFrame | undefined)[];
  thumbs: (Buffer | undefined)[];
  have: number;
  /** When its first output came (performance.now()). */
  since: number;
}

/**
 * How long, and for how many frames, an incomplete frame waits for an output that lags behind before it goes out
 * without it. Outputs run dozens of frames apart in a burst (a live camera's start, where FFmpeg decodes what it read
 * while probing at once; FFmpeg catching up after a stall) but only for milliseconds: a limit of 8 frames split such
 * bursts into JPEG-only and gray-only frames. An output that is really lost delays the others by at most the wait.
 * 64 frames of 1080p JPEG are about 10 MB, held only while a burst lasts.
 */
const MAX_PENDING = 64;
const MAX_WAIT_MS = 1000;

/**
 * The outputs of one FFmpeg process turned into frames: the splitters cut its pipes into JPEG and gray frames, and
 * frames are paired by index (FFmpeg feeds every output from the same decoded frame, in order), not by arrival: the
 * pipes are read independently and one may run a frame or two ahead of another. One per process lifetime's byte
 * streams; reset() when the process restarts.
 */
export class FramePairing {
  private readonly jpeg: MultipartJpegSplitter;
  private readonly pgms: PgmSplitter[];
  private readonly thumbSplitters: MultipartJpegSplitter[];
  private readonly thumbCounts: number[];
  private jpegCount = 0;
  private readonly grayCounts: number[];
  private readonly pending = new Map<number, Slot>();
  private nextIndex = 0;
  /** Frames emitted with an output missing (an output lost a frame, so pairing gave up on it). */
  unpaired = 0;

  constructor(
    private readonly boxes: readonly Box[],
    private readonly thumbs: readonly number[],
    private readonly hasJpeg: boolean,
    private readonly jpegEvery: number,
    /** A complete (or given-up-on) frame, with the bytes of its outputs. */
    private readonly onFrame: (frame: CapturedFrame, bytes: number) => void,
  ) {
    this.grayCounts = this.boxes.map(() => 0);
    // FFmpeg writes -f mpjpeg (see buildArgs): frames are cut by their Content-length, not by scanning.
    this.jpeg = new MultipartJpegSplitter({ boundary: FFMPEG_BOUNDARY, onFrame: (data) => this.onJpeg(data) });
    this.pgms = this.boxes.map((_, i) => new PgmSplitter({ onFrame: (data, width, height) => this.onGray(i, data, width, height) }));
    this.thumbCounts = this.thumbs.map(() => 0);
    this.thumbSplitters = this.thumbs.map((_, i) => new MultipartJpegSplitter({ boundary: FFMPEG_BOUNDARY, onFrame: (data) => this.onThumb(i, data) }));
  }

  /** Bytes of FFmpeg output that never became a frame (garbage, oversize, partial at a restart). */
  get droppedBytes(): number {
    // Dropped oversize frames are in skippedBytes already (counting onOversize too would count them twice).
    return this.jpeg.stats.skippedBytes + this.pgms.reduce((sum, p) => sum + p.stats.skippedBytes, 0) +
      this.thumbSplitters.reduce((sum, p) => sum + p.stats.skippedBytes, 0);
  }

  stdout(chunk: Buffer): void {
    this.jpeg.push(chunk);
  }

  pipe(fd: number, chunk: Buffer): void {
    const i = fd - grayPipe(0);
    if (i < this.pgms.length) this.pgms[i]?.push(chunk);
    else this.thumbSplitters[i - this.pgms.length]?.push(chunk);
  }

  /** A new process starts a new byte stream and a new frame count: nothing of the old one may leak into it. */
  reset(): void {
    this.jpeg.reset();
    for (const p of this.pgms) p.reset();
    for (const t of this.thumbSplitters) t.reset();
    this.jpegCount = 0;
    this.grayCounts.fill(0);
    this.thumbCounts.fill(0);
    this.pending.clear();
    this.nextIndex = 0;
  }

  private onJpeg(data: Buffer): void {
    const index = this.jpegCount++ * this.jpegEvery;
    if (this.boxes.length === 0 && this.thumbs.length === 0) {
      this.deliver(index, data, [], []);
      return;
    }
    const slot = this.slot(index);
    if (!slot) return;
    slot.jpeg = data;
    slot.have++;
    this.flush();
  }

  private onGray(output: number, data: Buffer, width: number, height: number): void {
    const index = this.grayCounts[output]!++;
    const slot = this.slot(index);
    if (!slot) return;
    slot.gray[output] = { data, width, height, seq: index, time: Date.now() };
    slot.have++;
    this.flush();
  }

  private onThumb(output: number, data: Buffer): void {
    const index = this.thumbCounts[output]!++ * this.jpegEvery;
    const slot = this.slot(index);
    if (!slot) return;
    slot.thumbs[output] = data;
    slot.have++;
    this.flush();
  }

  private slot(index: number): Slot | undefined {
    // Its frame already went out incomplete: a late output must not open the index again.
    if (index < this.nextIndex) return undefined;
    let slot = this.pending.get(index);
    if (!slot) {
      slot = { jpeg: undefined, gray: this.boxes.map(() => undefined), thumbs: this.thumbs.map(() => undefined), have: 0, since: performance.now() };
      this.pending.set(index, slot);
    }
    return slot;
  }

  private expected(index: number): number {
    return this.boxes.length + (this.hasJpeg && index % this.jpegEvery === 0 ? 1 + this.thumbs.length : 0);
  }

  /** Emits frames in index order as they complete; one that waits too long for a lost output goes incomplete. */
  private flush(): void {
    for (;;) {
      const slot = this.pending.get(this.nextIndex);
      if (!slot) {
        if (this.pending.size <= MAX_PENDING) return;
        // Every output lost this index: move on to the oldest one we have.
        this.nextIndex = Math.min(...this.pending.keys());
        continue;
      }
      if (slot.have < this.expected(this.nextIndex)) {
        if (this.pending.size <= MAX_PENDING && performance.now() - slot.since < MAX_WAIT_MS) return;
        this.unpaired++;
      }
      this.pending.delete(this.nextIndex);
      this.deliver(this.nextIndex++, slot.jpeg, slot.gray, slot.thumbs);
    }
  }

  private deliver(index: number, jpeg: Buffer | undefined, gray: (GrayFrame | undefined)[], thumbs: (Buffer | undefined)[]): void {
    let bytes = jpeg?.length ?? 0;
    for (const g of gray) bytes += g?.data.length ?? 0;
    for (const t of thumbs) bytes += t?.length ?? 0;
    this.onFrame({ index, time: Date.now(), jpeg, gray, thumbs }, bytes);
  }
}

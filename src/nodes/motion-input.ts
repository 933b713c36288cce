import type { NodeMessage } from './red-types';

/**
 * What a motion-detect does with a message. A glimpser camera sends `msg.gray` as a map by box key
 * (`{"240x180": {data, width, height, time}}`) and lists its keys in `msg.frame.gray`; other nodes may send one
 * frame as `msg.gray = {data, width, height}`, or a JPEG Buffer in `msg.payload`. Nodes on the wire in between
 * (change, function, link, a JSON round trip) may clone, reshape or drop any of that, so each shape is read for
 * what it is, and a message with no usable gray frame of our size falls back to its JPEG.
 */
export type InputPlan =
  /** A gray frame to analyse (its size is checked by the detector: a wrong one is bad input, reported). */
  | { use: 'gray'; data: Uint8Array; width: number; height: number; time: number | undefined }
  /**
   * A frame of the stream we asked for gray frames, made while its outputs switch (it lists the gray sizes it made,
   * and ours is not among them): ours comes with the next frames, so decoding this JPEG would be wasted CPU.
   */
  | { use: 'skip'; time: number | undefined }
  | { use: 'jpeg'; jpeg: Buffer; time: number | undefined }
  /** A frame that carries nothing for us (gray of other sizes only, no JPEG). */
  | { use: 'nothing'; time: number | undefined }
  /** Neither a frame nor a JPEG: the input is wrong. */
  | { use: 'invalid' };

export interface InputContext {
  /** Our box, as the camera's gray sizes are keyed ("240x180"), and its size. */
  grayKey: string;
  box: { width: number; height: number };
  /** The stream we asked for gray frames of our size, if we did. */
  demandedFrom: string | undefined;
}

interface GrayLike {
  data?: unknown;
  width?: unknown;
  height?: unknown;
  time?: unknown;
}

export function planInput(msg: NodeMessage, ctx: InputContext): InputPlan {
  const frame = isObject(msg.frame) ? (msg.frame as { stream?: unknown; time?: unknown; gray?: unknown; jpeg?: unknown }) : undefined;
  const frameTime = finite(frame?.time);
  const gray = grayFrom(msg.gray, ctx);
  if (gray) {
    const data = bytesOf(gray.data);
    if (data && data.length > 0) return { use: 'gray', data, width: Number(gray.width), height: Number(gray.height), time: finite(gray.time) ?? frameTime };
  }
  if (frame && ctx.demandedFrom !== undefined && frame.stream === ctx.demandedFrom && isKeyList(frame.gray) && !frame.gray.includes(ctx.grayKey)) {
    return { use: 'skip', time: frameTime };
  }
  if (Buffer.isBuffer(msg.payload)) return { use: 'jpeg', jpeg: msg.payload, time: frameTime };
  // A camera's frame with gray frames for others only (it had no JPEG to make for this one).
  if (frame && frame.jpeg === false && msg.payload === undefined) return { use: 'nothing', time: frameTime };
  return { use: 'invalid' };
}

/** Our gray frame in whatever shape `msg.gray` arrived: one frame, a map by box key, or a list of frames. */
function grayFrom(value: unknown, ctx: InputContext): GrayLike | undefined {
  if (!isObject(value)) return undefined;
  if (Array.isArray(value)) return value.find((g): g is GrayLike => isObject(g) && 'data' in g && fitsBox(g, ctx.box));
  const g = value as GrayLike & Record<string, unknown>;
  if ('data' in g) return g;
  const mine = g[ctx.grayKey];
  return isObject(mine) ? (mine as GrayLike) : undefined;
}

/** A gray frame made for our box fills it in one direction (the camera's shape decides the other). */
function fitsBox(g: GrayLike, box: { width: number; height: number }): boolean {
  const w = Number(g.width);
  const h = Number(g.height);
  return (w === box.width && h <= box.height) || (h === box.height && w <= box.width);
}

/** The bytes of a gray frame: a Buffer or byte array as sent, a plain array of numbers, or a Buffer's JSON form. */
export function bytesOf(data: unknown): Uint8Array | undefined {
  if (data instanceof Uint8Array) return data;
  if (data instanceof Uint8ClampedArray) return new Uint8Array(data.buffer, data.byteOffset, data.length);
  if (Array.isArray(data)) return data.every(isByte) ? Uint8Array.from(data as number[]) : undefined;
  if (isObject(data) && (data as { type?: unknown }).type === 'Buffer') return bytesOf((data as { data?: unknown }).data);
  return undefined;
}

function isByte(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255;
}

function isKeyList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((k) => typeof k === 'string');
}

function isObject(v: unknown): v is object {
  return typeof v === 'object' && v !== null;
}

function finite(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

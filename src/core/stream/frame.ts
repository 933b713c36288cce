import type { CapturedFrame, CaptureLike } from '../capture/capture';
import { boxKey } from '../ffmpeg/options';
import type { GrayFrame } from '../types';
import type { StreamFrame } from './model';

/**
 * A process's frame as the stream's users see it: gray frames keyed by size and thumbnails by width (the process
 * knows them by output index), numbered in the stream's own sequence. `jpeg` is what the frame carries (the caller
 * may withhold a sub-stream's still). Returns the frame and its bytes, for the stream's counters.
 */
export function streamFrame(seq: number, f: CapturedFrame, from: CaptureLike, jpeg: Buffer | undefined): { frame: StreamFrame; bytes: number } {
  const boxes = from.boxes;
  const gray: Record<string, GrayFrame> = {};
  let bytes = jpeg?.length ?? 0;
  for (let i = 0; i < boxes.length; i++) {
    const g = f.gray[i];
    if (!g) continue;
    gray[boxKey(boxes[i]!)] = { data: g.data, width: g.width, height: g.height, seq, time: f.time };
    bytes += g.data.length;
  }
  let thumbs: Record<string, Buffer> | undefined;
  const widths = from.thumbs;
  for (let i = 0; i < widths.length; i++) {
    const t = f.thumbs?.[i];
    if (!t) continue;
    (thumbs ??= {})[String(widths[i])] = t;
    bytes += t.length;
  }
  const frame: StreamFrame = thumbs ? { seq, time: f.time, jpeg, gray, thumbs } : { seq, time: f.time, jpeg, gray };
  return { frame, bytes };
}

/**
 * Thumbnail widths a viewer's `?width=` maps to. Each width in use is one more JPEG encoder in the stream's FFmpeg,
 * so requests are rounded up to a short ladder and a stream makes at most two at a time (FFmpeg-args' limit).
 */
export const THUMB_LADDER: readonly number[] = [160, 320, 640];
export const MAX_THUMB_WIDTHS = 2;

/**
 * The thumbnail width that serves a viewer asking for `requested` pixels (0: the main JPEG): the smallest ladder
 * width at least as wide, unless the main JPEG is not wider than that (`mainWidth`, when known). When two widths are
 * already in use (`active`) and this one is not among them, the narrowest active width that is wide enough, else the
 * main JPEG.
 */
export function thumbWidthFor(requested: number | undefined, mainWidth: number | undefined, active: Iterable<number>): number {
  if (!requested || !Number.isFinite(requested) || requested <= 0) return 0;
  const want = THUMB_LADDER.find((w) => w >= requested);
  if (want === undefined || (mainWidth !== undefined && want >= mainWidth)) return 0;
  const inUse = [...active].filter((w) => w > 0);
  if (inUse.includes(want) || inUse.length < MAX_THUMB_WIDTHS) return want;
  const wider = inUse.filter((w) => w >= requested && (mainWidth === undefined || w < mainWidth)).sort((a, b) => a - b);
  return wider[0] ?? 0;
}

/** Editor fields arrive as strings (or numbers, or missing): one place turns them into clamped numbers. */
export function clampNumber(value: unknown, fallback: number, min: number, max: number): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n)) return fallback;
  return Math.min(max, Math.max(min, n));
}

export function trimmed(value: unknown): string {
  return typeof value === 'string' ? value.trim() : '';
}

/**
 * The box a motion-detect node's gray frames must fit in. The source reads it from the motion node's config to
 * size its second output, and the node uses it for its own JPEG path: one function so both agree.
 */
export function analysisBox(def: { [key: string]: unknown; analysisWidth?: unknown; analysisHeight?: unknown }): { width: number; height: number } {
  return {
    width: Math.round(clampNumber(def.analysisWidth, 240, 16, 640)),
    height: Math.round(clampNumber(def.analysisHeight, 180, 16, 480)),
  };
}

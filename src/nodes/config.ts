/** Editor fields arrive as strings (or numbers, or missing): one place turns them into clamped numbers. */
export function clampNumber(value: unknown, fallback: number, min: number, max: number): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n)) return fallback;
  return Math.min(max, Math.max(min, n));
}

export function trimmed(value: unknown): string {
  return typeof value === 'string' ? value.trim() : '';
}

'use strict';
// Figures every bench reads the same way: percentiles (nearest rank), spread, a least-squares slope.

/** Nearest-rank percentile of numbers (sorted or not); NaN for none. */
function pct(xs, p) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

function mean(xs) {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

/** Population standard deviation. */
function stddev(xs) {
  if (!xs.length) return NaN;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) * (b - m), 0) / xs.length);
}

/** Slope of y over x by least squares (units of y per unit of x); NaN with fewer than 3 points. */
function slope(points) {
  if (points.length < 3) return NaN;
  const mx = mean(points.map((p) => p[0]));
  const my = mean(points.map((p) => p[1]));
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) * (x - mx);
  }
  return den ? num / den : NaN;
}

/** A number with d decimals, or '-' when it is not one. */
function fx(x, d = 1) {
  return Number.isFinite(x) ? x.toFixed(d) : '-';
}

/** Right-aligned columns; the first column left-aligned. */
function table(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? String(cell ?? '').padEnd(widths[c]) : String(cell ?? '').padStart(widths[c]))).join('  ')).join('\n');
}

module.exports = { pct, mean, stddev, slope, fx, table };

/**
 * Regions of interest for motion detection: named polygons in normalised 0..1 coordinates,
 * rasterised once per frame size into row spans so the detector never visits a pixel outside
 * every include region (or inside an exclude region).
 */

export interface RegionSpec {
  name: string;
  /** 'include' (default) counts motion; 'exclude' removes its pixels from every include region. */
  type?: 'include' | 'exclude';
  /** Polygon corners in normalised coordinates, x right, y down, 0..1. At least three. */
  points: Array<[number, number] | { x: number; y: number }>;
  /** Changed pixels (at analysis size) this region needs to report motion; default: the detector's minArea. */
  minArea?: number;
}

export interface Region {
  readonly name: string;
  readonly type: 'include' | 'exclude';
  readonly points: ReadonlyArray<readonly [number, number]>;
  readonly minArea?: number;
}

/** Include regions are bits of a 32-bit mask. */
export const MAX_INCLUDE_REGIONS = 31;

export class RegionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegionError';
  }
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * Validates user input (already JSON-parsed, or a JSON string). Throws RegionError with a message
 * naming the region and the problem; an empty list or undefined means "the whole frame".
 */
export function parseRegions(input: unknown): Region[] {
  let value = input;
  if (typeof value === 'string') {
    const text = value.trim();
    if (text === '') return [];
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new RegionError(`regions: not valid JSON (${(err as Error).message})`);
    }
  }
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new RegionError('regions: expected an array of {name, type, points}');
  const out: Region[] = [];
  const names = new Set<string>();
  let includes = 0;
  value.forEach((raw: unknown, index: number) => {
    if (typeof raw !== 'object' || raw === null) throw new RegionError(`regions[${index}]: expected an object`);
    const r = raw as Record<string, unknown>;
    const name = typeof r.name === 'string' && r.name.trim() !== '' ? r.name.trim() : `region${index + 1}`;
    const label = `region "${name}"`;
    if (names.has(name)) throw new RegionError(`${label}: duplicate name`);
    names.add(name);
    const type = r.type === undefined ? 'include' : r.type;
    if (type !== 'include' && type !== 'exclude') throw new RegionError(`${label}: type must be "include" or "exclude"`);
    if (!Array.isArray(r.points) || r.points.length < 3) {
      throw new RegionError(`${label}: a polygon needs at least 3 points, got ${Array.isArray(r.points) ? r.points.length : 'none'}`);
    }
    const points: Array<[number, number]> = r.points.map((p: unknown, pi: number) => {
      let x: unknown;
      let y: unknown;
      if (Array.isArray(p)) [x, y] = p;
      else if (typeof p === 'object' && p !== null) ({ x, y } = p as { x: unknown; y: unknown });
      if (!isFiniteNumber(x) || !isFiniteNumber(y)) throw new RegionError(`${label}: point ${pi} is not [x, y] numbers`);
      if (x < 0 || x > 1 || y < 0 || y > 1) {
        throw new RegionError(`${label}: point ${pi} [${x}, ${y}] is out of range (coordinates are fractions 0..1 of the frame)`);
      }
      return [x, y];
    });
    let minArea: number | undefined;
    if (r.minArea !== undefined) {
      if (!isFiniteNumber(r.minArea) || r.minArea < 1) throw new RegionError(`${label}: minArea must be a number >= 1`);
      minArea = Math.round(r.minArea);
    }
    if (type === 'include') includes++;
    out.push({ name, type, points, minArea });
  });
  if (includes > MAX_INCLUDE_REGIONS) throw new RegionError(`regions: at most ${MAX_INCLUDE_REGIONS} include regions`);
  return out;
}

/** The rasterised form of a region list for one frame size. */
export interface RegionMask {
  readonly width: number;
  readonly height: number;
  /** Include regions in bit order (bit r of regionBits = includes[r]). */
  readonly includes: ReadonlyArray<Region>;
  /** Per pixel: bit r set when the pixel belongs to include region r and to no exclude region. */
  readonly regionBits: Uint32Array;
  /** Per pixel: 1 inside an exclude region (kept out of light estimation too). */
  readonly excluded: Uint8Array;
  /** Row spans of processed pixels: pixel indices [spanStart[k], spanEnd[k]). */
  readonly spanStart: Int32Array;
  readonly spanEnd: Int32Array;
  readonly spanCount: number;
  /** Processed pixels per include region and in total. */
  readonly regionArea: Int32Array;
  readonly activeArea: number;
  /** Region area scaled to the frame: an include region too small to hold a single pixel center. */
  readonly emptyRegions: string[];
}

/** Marks pixels whose centres lie inside the polygon (even-odd rule) by calling fill(y, x0, x1). */
function scanPolygon(points: ReadonlyArray<readonly [number, number]>, width: number, height: number,
  fill: (y: number, x0: number, x1: number) => void): void {
  const n = points.length;
  const xs: number[] = [];
  for (let y = 0; y < height; y++) {
    const yc = (y + 0.5) / height;
    xs.length = 0;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const [xi, yi] = points[i];
      const [xj, yj] = points[j];
      if ((yi > yc) !== (yj > yc)) xs.push(xi + ((yc - yi) / (yj - yi)) * (xj - xi));
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      // Pixel x is inside when its centre (x + 0.5) / width lies in [xs[k], xs[k+1]).
      const x0 = Math.max(0, Math.ceil(xs[k] * width - 0.5));
      const x1 = Math.min(width, Math.ceil(xs[k + 1] * width - 0.5));
      if (x1 > x0) fill(y, x0, x1);
    }
  }
}

/** Rasterises regions for a frame size. No include region means the whole frame (minus excludes). */
export function buildRegionMask(regions: ReadonlyArray<Region>, width: number, height: number): RegionMask {
  const size = width * height;
  const regionBits = new Uint32Array(size);
  const includes = regions.filter((r) => r.type === 'include');
  if (includes.length === 0) {
    regionBits.fill(1);
  } else {
    includes.forEach((r, bit) => {
      const b = (1 << bit) >>> 0;
      scanPolygon(r.points, width, height, (y, x0, x1) => {
        const row = y * width;
        for (let x = x0; x < x1; x++) regionBits[row + x] |= b;
      });
    });
  }
  const excluded = new Uint8Array(size);
  for (const r of regions) {
    if (r.type !== 'exclude') continue;
    scanPolygon(r.points, width, height, (y, x0, x1) => {
      regionBits.fill(0, y * width + x0, y * width + x1);
      excluded.fill(1, y * width + x0, y * width + x1);
    });
  }
  const effectiveIncludes: Region[] = includes.length === 0 ? [{ name: 'all', type: 'include', points: [[0, 0], [1, 0], [1, 1], [0, 1]] }] : includes;
  const regionArea = new Int32Array(effectiveIncludes.length);
  const starts: number[] = [];
  const ends: number[] = [];
  let activeArea = 0;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let x = 0;
    while (x < width) {
      while (x < width && regionBits[row + x] === 0) x++;
      if (x >= width) break;
      const s = x;
      while (x < width && regionBits[row + x] !== 0) {
        // Runs of one region combination: the area is tallied per run, not per pixel (setup time).
        const v = regionBits[row + x];
        const r0 = x;
        while (x < width && regionBits[row + x] === v) x++;
        let b = v;
        while (b !== 0) {
          regionArea[31 - Math.clz32(b & -b)] += x - r0;
          b &= b - 1;
        }
      }
      starts.push(row + s);
      ends.push(row + x);
      activeArea += x - s;
    }
  }
  const emptyRegions = effectiveIncludes.filter((_r, i) => regionArea[i] === 0).map((r) => r.name);
  return {
    width,
    height,
    includes: effectiveIncludes,
    regionBits,
    excluded,
    spanStart: Int32Array.from(starts),
    spanEnd: Int32Array.from(ends),
    spanCount: starts.length,
    regionArea,
    activeArea,
    emptyRegions,
  };
}

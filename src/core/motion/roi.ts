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
    // Indexing, not destructuring, and an insertion sort of the few crossings: this runs cold.
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const pi = points[i];
      const pj = points[j];
      const yi = pi[1];
      const yj = pj[1];
      if ((yi > yc) !== (yj > yc)) {
        const v = pi[0] + ((yc - yi) / (yj - yi)) * (pj[0] - pi[0]);
        let k = xs.length;
        xs.push(v);
        while (k > 0 && xs[k - 1] > v) {
          xs[k] = xs[k - 1];
          k--;
        }
        xs[k] = v;
      }
    }
    for (let k = 0; k + 1 < xs.length; k += 2) {
      // Pixel x is inside when its centre (x + 0.5) / width lies in [xs[k], xs[k+1]).
      const x0 = Math.max(0, Math.ceil(xs[k] * width - 0.5));
      const x1 = Math.min(width, Math.ceil(xs[k + 1] * width - 0.5));
      if (x1 > x0) fill(y, x0, x1);
    }
  }
}

/**
 * Rasterises regions for a frame size. No include region means the whole frame (minus excludes).
 * Setup runs once per size, cold (not yet optimised by the JIT), so it works per row on the few
 * span end points and leaves the per-pixel writes to the typed arrays' native fill().
 */
export function buildRegionMask(regions: ReadonlyArray<Region>, width: number, height: number): RegionMask {
  const size = width * height;
  const regionBits = new Uint32Array(size);
  const excluded = new Uint8Array(size);
  const includes = regions.filter((r) => r.type === 'include');
  // Per row: [x0, x1, bits] triples; bits 0 marks an exclude span.
  const rows: number[][] = [];
  for (let y = 0; y < height; y++) rows.push(includes.length === 0 ? [0, width, 1] : []);
  includes.forEach((r, bit) => {
    const b = (1 << bit) >>> 0;
    scanPolygon(r.points, width, height, (y, x0, x1) => {
      rows[y].push(x0, x1, b);
    });
  });
  for (const r of regions) {
    if (r.type !== 'exclude') continue;
    scanPolygon(r.points, width, height, (y, x0, x1) => {
      rows[y].push(x0, x1, 0);
    });
  }
  const effectiveIncludes: Region[] = includes.length === 0 ? [{ name: 'all', type: 'include', points: [[0, 0], [1, 0], [1, 1], [0, 1]] }] : includes;
  const regionArea = new Int32Array(effectiveIncludes.length);
  const starts: number[] = [];
  const ends: number[] = [];
  let activeArea = 0;
  const cuts: number[] = [];
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const list = rows[y];
    if (list.length === 0) continue;
    // Between consecutive span end points every pixel has the same region bits.
    cuts.length = 0;
    for (let k = 0; k < list.length; k += 3) cuts.push(list[k], list[k + 1]);
    cuts.sort((p, q) => p - q);
    let spanFrom = -1;
    for (let c = 0; c + 1 < cuts.length; c++) {
      const x0 = cuts[c];
      const x1 = cuts[c + 1];
      if (x1 === x0) continue;
      let v = 0;
      let ex = false;
      for (let k = 0; k < list.length; k += 3) {
        if (list[k] <= x0 && list[k + 1] >= x1) {
          if (list[k + 2] === 0) ex = true;
          else v |= list[k + 2];
        }
      }
      if (ex) {
        excluded.fill(1, row + x0, row + x1);
        v = 0;
      }
      if (v !== 0) {
        regionBits.fill(v, row + x0, row + x1);
        for (let b = v; b !== 0; b &= b - 1) regionArea[31 - Math.clz32(b & -b)] += x1 - x0;
        if (spanFrom < 0) spanFrom = x0;
      } else if (spanFrom >= 0) {
        starts.push(row + spanFrom);
        ends.push(row + x0);
        activeArea += x0 - spanFrom;
        spanFrom = -1;
      }
    }
    if (spanFrom >= 0) {
      const last = cuts[cuts.length - 1];
      starts.push(row + spanFrom);
      ends.push(row + last);
      activeArea += last - spanFrom;
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

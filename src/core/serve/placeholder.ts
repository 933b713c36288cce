import { loadSharp } from '../util/sharp';

export interface PlaceholderInfo {
  /** Stream name shown as the title. */
  stream: string;
  /** Source state or a short reason (e.g. "recovering", "no signal"). */
  state: string;
  /** Optional second line, e.g. the source's last error. */
  detail?: string;
  width: number;
  height: number;
}

export const DEFAULT_PLACEHOLDER_SIZE = { width: 640, height: 360 };
const MAX_SIDE = 4096;
const MIN_SIDE = 32;
const MAX_DETAIL = 90;

const STATE_COLOURS: Record<string, string> = {
  starting: '#d8b040',
  idle: '#909090',
  recovering: '#e09030',
  failed: '#e04040',
};

/**
 * The size a placeholder is drawn at for frames of `size`: the same aspect, scaled down until it holds at most
 * `maxPixels` and no side is over 4096, so a huge frame declared by one JPEG header cannot make a huge drawing.
 */
export function fitPixels(size: { width: number; height: number }, maxPixels: number): { width: number; height: number } {
  let { width, height } = size;
  if (!(width > 0) || !(height > 0)) return DEFAULT_PLACEHOLDER_SIZE;
  const k = Math.min(1, Math.sqrt(maxPixels / (width * height)), MAX_SIDE / width, MAX_SIDE / height);
  width = Math.max(MIN_SIDE, Math.floor(width * k));
  height = Math.max(MIN_SIDE, Math.floor(height * k));
  return { width, height };
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

function clampSide(n: number, fallback: number): number {
  return Number.isFinite(n) ? Math.min(MAX_SIDE, Math.max(MIN_SIDE, Math.round(n))) : fallback;
}

function clock(time: number): string {
  const d = new Date(time);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** The SVG drawn for a placeholder; exported so its text can be checked without decoding a JPEG. */
export function placeholderSvg(info: PlaceholderInfo, time: number): string {
  const w = clampSide(info.width, DEFAULT_PLACEHOLDER_SIZE.width);
  const h = clampSide(info.height, DEFAULT_PLACEHOLDER_SIZE.height);
  const unit = Math.max(8, Math.round(Math.min(w / 16, h / 9)));
  const colour = STATE_COLOURS[info.state] ?? '#c0c0c0';
  const detail = info.detail ? info.detail.slice(0, MAX_DETAIL) : '';
  const line = (y: number, size: number, fill: string, text: string): string =>
    `<text x="50%" y="${y}" font-family="DejaVu Sans, sans-serif" font-size="${size}" fill="${fill}" text-anchor="middle">${escapeXml(text)}</text>`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">` +
    `<rect width="100%" height="100%" fill="#1b1d22"/>` +
    line(Math.round(h * 0.36), Math.round(unit * 0.9), '#f0f0f0', info.stream) +
    line(Math.round(h * 0.55), Math.round(unit * 0.75), colour, info.state) +
    (detail ? line(Math.round(h * 0.68), Math.round(unit * 0.4), '#b0b0b0', detail) : '') +
    line(Math.round(h * 0.85), Math.round(unit * 0.45), '#a0a0a0', clock(time)) +
    `</svg>`
  );
}

/** Renders a placeholder JPEG with sharp (librsvg draws the text). */
export async function renderPlaceholder(info: PlaceholderInfo, time = Date.now()): Promise<Buffer> {
  const sharp = await loadSharp();
  return sharp(Buffer.from(placeholderSvg(info, time))).jpeg({ quality: 70 }).toBuffer();
}

/**
 * One placeholder image shared by every viewer of a stream: re-rendered at most once per interval
 * (the clock on it moves each second) and when what it says changes; concurrent callers share one render.
 */
export class PlaceholderCache {
  renders = 0;
  private current: { key: string; at: number; jpeg: Buffer } | undefined;
  private inFlight: { key: string; promise: Promise<Buffer> } | undefined;

  constructor(
    private readonly minIntervalMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  get(info: PlaceholderInfo): Promise<Buffer> {
    const key = `${info.stream}\n${info.state}\n${info.detail ?? ''}\n${info.width}x${info.height}`;
    const t = this.now();
    if (this.current && this.current.key === key && t - this.current.at < this.minIntervalMs) {
      return Promise.resolve(this.current.jpeg);
    }
    if (this.inFlight && this.inFlight.key === key) return this.inFlight.promise;
    this.renders++;
    const promise = renderPlaceholder(info, t).then(
      (jpeg) => {
        if (this.inFlight?.promise === promise) this.inFlight = undefined;
        this.current = { key, at: t, jpeg };
        return jpeg;
      },
      (err: unknown) => {
        if (this.inFlight?.promise === promise) this.inFlight = undefined;
        throw err;
      },
    );
    this.inFlight = { key, promise };
    return promise;
  }
}

/** What one viewer asks for in its request: `?fps=`, `?width=`, `?idlefps=`. */
export interface ViewerRequest {
  /** Cap on frames per second. */
  maxFps?: number;
  /** Wanted picture width: served from a thumbnail output of about that width (thumb-widths.ts). */
  width?: number;
  /** Motion-aware: this many frames per second while the stream's motion-detect sees nothing move. */
  idleFps?: number;
}

function positiveParam(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** A viewer's `fps`, `width` and `idlefps` query parameters; absent or not positive numbers are left out. */
export function viewerRequestFromUrl(url: string | undefined): ViewerRequest {
  const q = url?.indexOf('?') ?? -1;
  if (!url || q < 0) return {};
  const params = new URLSearchParams(url.slice(q + 1));
  const out: ViewerRequest = {};
  const maxFps = positiveParam(params, 'fps');
  const width = positiveParam(params, 'width');
  const idleFps = positiveParam(params, 'idlefps');
  if (maxFps !== undefined) out.maxFps = maxFps;
  if (width !== undefined) out.width = Math.round(width);
  if (idleFps !== undefined) out.idleFps = idleFps;
  return out;
}

/** The `fps` query parameter of a request URL, or undefined when absent or not a positive number. */
export function fpsFromUrl(url: string | undefined): number | undefined {
  return viewerRequestFromUrl(url).maxFps;
}

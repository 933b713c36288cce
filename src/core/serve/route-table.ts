import type { IncomingMessage, ServerResponse } from 'node:http';

export type Next = (err?: unknown) => void;
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

/** Path characters we accept: RFC 3986 pchar plus '/', without '?' and '#'. */
const PATH_RE = /^(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$/;

/**
 * A route path as entered by a user, normalised: leading '/', no trailing '/'.
 * Returns undefined when the path is empty or holds characters that cannot be a plain path.
 */
export function normalisePath(input: unknown): string | undefined {
  if (typeof input !== 'string') return undefined;
  let p = input.trim();
  if (!p) return undefined;
  if (!p.startsWith('/')) p = `/${p}`;
  while (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return PATH_RE.test(p) ? p : undefined;
}

export class PathInUseError extends Error {
  constructor(
    readonly path: string,
    readonly owner: string,
  ) {
    super(`path ${path} is already served by node ${owner}`);
    this.name = 'PathInUseError';
  }
}

/**
 * GET/HEAD routes by exact path, mounted once on an express app as one middleware. Nodes claim and
 * release paths on deploy and close; the app's router stack never grows, however often flows are redeployed.
 */
export class RouteTable {
  private readonly routes = new Map<string, { owner: string; handler: RouteHandler }>();

  get size(): number {
    return this.routes.size;
  }

  ownerOf(path: string): string | undefined {
    return this.routes.get(path)?.owner;
  }

  claim(path: string, owner: string, handler: RouteHandler): void {
    const held = this.routes.get(path);
    if (held && held.owner !== owner) throw new PathInUseError(path, held.owner);
    this.routes.set(path, { owner, handler });
  }

  /** Releases the path only if `owner` still holds it, so a late close cannot drop a successor's route. */
  release(path: string, owner: string): void {
    if (this.routes.get(path)?.owner === owner) this.routes.delete(path);
  }

  readonly middleware = (req: IncomingMessage, res: ServerResponse, next: Next): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    // express sets req.path relative to where the app is mounted (httpNodeRoot).
    const expressPath = (req as IncomingMessage & { path?: string }).path;
    let path = typeof expressPath === 'string' ? expressPath : (req.url ?? '/').split('?')[0]!;
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    const route = this.routes.get(path);
    if (!route) return next();
    route.handler(req, res, next);
  };
}

/** Runs connect-style middleware in order, then `last`; an error or a middleware that answers stops the chain. */
export function runChain(
  chain: readonly RouteHandler[],
  req: IncomingMessage,
  res: ServerResponse,
  next: Next,
  last: () => void,
): void {
  let i = 0;
  const step = (err?: unknown): void => {
    if (err) return next(err);
    const fn = chain[i++];
    if (!fn) return last();
    try {
      fn(req, res, step);
    } catch (e) {
      next(e);
    }
  };
  step();
}

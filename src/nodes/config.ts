/**
 * A numeric editor field as the runtime accepts it. The editor's validators (nodes/*.html) apply the same rule, and
 * test/browser/editor.test.js checks in Chromium that both accept exactly the same values.
 */
export interface NumberRule {
  min: number;
  max: number;
  /** Taken when the field is empty or absent (a flow saved before the field existed). */
  fallback: number;
  /** Whole numbers only (a count, or a size the runtime would otherwise round). */
  integer?: boolean;
  /** 0 is accepted as well, below `min` (an output width of 0: as the source). */
  zero?: boolean;
}

/** A field whose value the runtime refuses, for the node's error message. */
export interface RangeProblem {
  field: string;
  /** The value as entered, shortened: numbers hold no secrets, but a pasted paragraph would flood the log. */
  value: string;
  rule: NumberRule;
}

export type Translate = (key: string, subs?: Record<string, unknown>) => string;

/** The number a field holds, its rule's fallback when empty, or undefined when the rule refuses it. */
export function readNumber(value: unknown, rule: NumberRule): number | undefined {
  if (value === undefined || value === null) return rule.fallback;
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string') {
    if (value.trim() === '') return rule.fallback;
    n = Number(value);
  } else return undefined;
  if (!Number.isFinite(n)) return undefined;
  if (rule.zero && n === 0) return 0;
  if (n < rule.min || n > rule.max) return undefined;
  if (rule.integer && !Number.isInteger(n)) return undefined;
  return n;
}

/**
 * Every numeric field of a node's config under its rule. A refused field gets its fallback in `values`, so the node
 * can still build what its close needs, and a problem the node reports; it must not run on those values.
 */
export function readNumbers<K extends string>(def: Record<string, unknown>, rules: Record<K, NumberRule>): { values: Record<K, number>; problems: RangeProblem[] } {
  const values = {} as Record<K, number>;
  const problems: RangeProblem[] = [];
  for (const field of Object.keys(rules) as K[]) {
    const rule = rules[field];
    const n = readNumber(def[field], rule);
    if (n === undefined) {
      const raw = typeof def[field] === 'string' ? (def[field] as string) : JSON.stringify(def[field]) ?? String(def[field]);
      problems.push({ field, value: raw.length > 24 ? `${raw.slice(0, 23)}…` : raw, rule });
    }
    values[field] = n ?? rule.fallback;
  }
  return { values, problems };
}

/**
 * "<Field> must be a number from <min> to <max>, got "<value>"", in the node's own catalog (`<ns>.fields.<field>`
 * and `<ns>.errors.range…`): the editor's validators give the same text.
 */
export function rangeMessage(_: Translate, ns: string, p: RangeProblem): string {
  const kind = p.rule.zero ? 'rangeIntegerOrZero' : p.rule.integer ? 'rangeInteger' : 'range';
  return _(`${ns}.errors.${kind}`, { field: _(`${ns}.fields.${p.field}`), min: p.rule.min, max: p.rule.max, value: p.value });
}

export function trimmed(value: unknown): string {
  return typeof value === 'string' ? value.trim() : '';
}

export const ERROR_REPORT_MS = 10_000;

/**
 * How often a per-frame error may reach the log (and Catch nodes): `glimpser.errorReportSeconds` in settings.js,
 * 10 s by default, for every node that reports bad input per frame (mjpeg-out, motion-detect). A value that is not a number from 0.1 to 3600 is ignored.
 */
export function errorReportMs(runtimeSettings: Record<string, unknown>): number {
  const own = runtimeSettings.glimpser as { errorReportSeconds?: unknown } | undefined;
  const s = own?.errorReportSeconds;
  return typeof s === 'number' && s >= 0.1 && s <= 3600 ? s * 1000 : ERROR_REPORT_MS;
}

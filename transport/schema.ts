// A small schema language: one definition gives both the TypeScript type of a
// message and the validator that checks it at the boundary. Hand-rolled rather
// than a library so validation stays cheap on the data path (a chunk is checked
// in a handful of property reads) and error messages name the offending field.

export interface Schema<T> {
  /** Returns null when `v` conforms, else a path-qualified reason. */
  check(v: unknown, path: string): string | null;
  readonly _type?: T;
  readonly describe: string;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

function mk<T>(describe: string, check: (v: unknown, path: string) => string | null): Schema<T> {
  return { check, describe };
}

export const str: Schema<string> = mk('string', (v, p) => (typeof v === 'string' ? null : `${p}: expected string`));

export function strMax(max: number): Schema<string> {
  return mk(`string(<=${max})`, (v, p) =>
    typeof v !== 'string' ? `${p}: expected string` : v.length > max ? `${p}: longer than ${max}` : null,
  );
}

export const num: Schema<number> = mk('number', (v, p) =>
  typeof v === 'number' && Number.isFinite(v) ? null : `${p}: expected finite number`,
);

export const int: Schema<number> = mk('int', (v, p) =>
  typeof v === 'number' && Number.isSafeInteger(v) ? null : `${p}: expected integer`,
);

export const uint: Schema<number> = mk('uint', (v, p) =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? null : `${p}: expected non-negative integer`,
);

export const bool: Schema<boolean> = mk('boolean', (v, p) => (typeof v === 'boolean' ? null : `${p}: expected boolean`));

export const bytes: Schema<Uint8Array> = mk('bytes', (v, p) => (v instanceof Uint8Array ? null : `${p}: expected bytes`));

export function lit<const L extends string | number | boolean>(value: L): Schema<L> {
  return mk(JSON.stringify(value), (v, p) => (v === value ? null : `${p}: expected ${JSON.stringify(value)}`));
}

export function oneOf<const L extends string>(...values: L[]): Schema<L> {
  const set = new Set<unknown>(values);
  return mk(values.join('|'), (v, p) => (set.has(v) ? null : `${p}: expected one of ${values.join(', ')}`));
}

export function opt<T>(s: Schema<T>): Schema<T | undefined> {
  return mk(`${s.describe}?`, (v, p) => (v === undefined || v === null ? null : s.check(v, p)));
}

export function arr<T>(s: Schema<T>, max = 1_000_000): Schema<T[]> {
  return mk(`${s.describe}[]`, (v, p) => {
    if (!Array.isArray(v)) return `${p}: expected array`;
    if (v.length > max) return `${p}: more than ${max} items`;
    // The element's path is spelled out only when it failed: building it for every
    // element that passes cost more than the checks themselves.
    for (let i = 0; i < v.length; i++) if (s.check(v[i], p) !== null) return s.check(v[i], `${p}[${i}]`);
    return null;
  });
}

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: undefined extends Infer<S[K]> ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
export type ObjOf<S extends Shape> = { [K in RequiredKeys<S>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> };

export function obj<S extends Shape>(shape: S): Schema<{ [K in keyof ObjOf<S>]: ObjOf<S>[K] }> {
  const keys = Object.keys(shape);
  return mk('object', (v, p) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) return `${p}: expected object`;
    const o = v as Record<string, unknown>;
    // As for arrays: the field's path is built only to report a failure.
    for (const k of keys) if (shape[k]!.check(o[k], p) !== null) return shape[k]!.check(o[k], `${p}.${k}`);
    return null;
  });
}

export interface MsgSchema<T> extends Schema<T> {
  readonly name: string;
}

/** A message type: an object whose `t` field is the literal `name`. */
export function msg<const N extends string, S extends Shape>(name: N, shape: S) {
  const s = obj({ t: lit(name), ...shape });
  return Object.assign(s, { name }) as typeof s & MsgSchema<Infer<typeof s>>;
}

import { UserFacingError } from '../errors';
import { serviceText } from './HttpClient';

/**
 * Checks of response shapes at a client's boundary: a body that does not have the shape the
 * code reads becomes one 'protocol' error naming the field, instead of a TypeError somewhere
 * later. A shape returns a clean copy holding only the fields it lists (own data properties,
 * so a key like `__proto__` in the body can never change a prototype).
 */
export type Shape<T> = (value: unknown, path: string) => T;

/** Thrown by shapes; turned into a UserFacingError by parseShape. */
export class ShapeMismatch extends Error {
  override readonly name = 'ShapeMismatch';
  constructor(
    readonly path: string,
    readonly expected: string,
    readonly actual: unknown,
  ) {
    super(`${path} is ${describeValue(actual)}, expected ${expected}`);
  }
}

/** A short description of a value for an error message (never its full text: it may be long or secret). */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'missing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return v.length <= 40 ? `the text ${JSON.stringify(serviceText(v, 40))}` : 'a long text';
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return String(v);
  return `${/^[aeiou]/.test(typeof v) ? 'an' : 'a'} ${typeof v}`;
}

export const str: Shape<string> = (v, path) => {
  if (typeof v !== 'string') throw new ShapeMismatch(path, 'a string', v);
  return v;
};

/** A string from a known set (enum names); unknown names are kept, as services add values. */
export function name<T extends string>(): Shape<T> {
  return str as Shape<T>;
}

export const num: Shape<number> = (v, path) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ShapeMismatch(path, 'a number', v);
  return v;
};

/** A JSON number that is an exact integer (ids). */
export const int: Shape<number> = (v, path) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new ShapeMismatch(path, 'an integer', v);
  return v;
};

export const bool: Shape<boolean> = (v, path) => {
  if (typeof v !== 'boolean') throw new ShapeMismatch(path, 'true or false', v);
  return v;
};

/** Any JSON value, kept as it is (for fields only passed along, never read). */
export const json: Shape<unknown> = (v) => v;

/** Absent (undefined or null, as services write "no value" both ways) or of `shape`. */
export function opt<T>(shape: Shape<T>): Shape<T | undefined> {
  return (v, path) => (v === undefined || v === null ? undefined : shape(v, path));
}

/** Of `shape`, or `fallback` when absent. */
export function orElse<T>(shape: Shape<T>, fallback: T): Shape<T> {
  return (v, path) => (v === undefined || v === null ? fallback : shape(v, path));
}

export function list<T>(shape: Shape<T>): Shape<T[]> {
  return (v, path) => {
    if (!Array.isArray(v)) throw new ShapeMismatch(path, 'a list', v);
    return v.map((item, i) => shape(item, `${path}[${i}]`));
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

type Fields<T> = { [K in keyof T]-?: Shape<T[K]> };

/** An object with these fields (others are dropped); absent optional fields stay absent. */
export function obj<T extends object>(fields: Fields<T>): Shape<T> {
  const keys = Object.keys(fields) as (keyof T & string)[];
  return (v, path) => {
    if (!isObject(v)) throw new ShapeMismatch(path || 'the body', 'an object', v);
    const out = {} as T;
    for (const k of keys) {
      const own = Object.prototype.hasOwnProperty.call(v, k) ? v[k] : undefined;
      const value = fields[k](own, path ? `${path}.${k}` : k);
      if (value !== undefined) Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
    }
    return out;
  };
}

/** An object of string values (tags, parameters), every key kept as an own property. */
export const stringRecord: Shape<Record<string, string>> = (v, path) => {
  if (!isObject(v)) throw new ShapeMismatch(path, 'an object of strings', v);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, str(x, `${path}.${k}`)]));
};

/**
 * `value` checked against `shape`, or a 'protocol' error: "<service> sent a malformed <what>:
 * <field> is <value>, expected <type>."
 */
export function parseShape<T>(shape: Shape<T>, value: unknown, service: string, what: string): T {
  try {
    return shape(value, '');
  } catch (e) {
    if (!(e instanceof ShapeMismatch)) throw e;
    throw new UserFacingError('protocol', `${service} sent a malformed ${what}: ${e.message}.`, 'Retry; if it persists, check the endpoint setting or report it to the service owner.');
  }
}

import { checkEndpointUrl } from './endpointUrl';

/** A settings leaf after validation. */
export type Leaf = string | number | boolean | string[];

/** How one setting is checked. Patterns mirror environments.schema.json. */
export type FieldSpec =
  | { kind: 'string'; pattern?: RegExp; hint?: string }
  | { kind: 'url' }
  | { kind: 'origin' }
  | { kind: 'boolean' }
  | { kind: 'integer'; min: number; max: number }
  | { kind: 'strings'; pattern: RegExp; hint: string; minItems: number }
  | { kind: 'enum'; values: readonly string[] };

export const SUBJECT_TOKEN_FIELD: FieldSpec = { kind: 'enum', values: ['idToken', 'accessToken'] };

export const FIELD_PATTERNS = {
  roleArn: /^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/,
  workloadIdentityAudience: /^\/\/iam\.googleapis\.com\/projects\/\d+\/locations\/global\/workloadIdentityPools\/[^/]+\/providers\/[^/]+$/,
  // The address goes into a URL path (…/serviceAccounts/{email}:generateAccessToken).
  serviceAccount: /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+$/,
  awsRegion: /^[a-z]{2}(-[a-z]+)+-\d+$/,
  // RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E.
  scope: /^[\x21\x23-\x5b\x5d-\x7e]+$/,
  group: /^\S(.*\S)?$/,
  gcpId: /^[a-z][a-z0-9._:-]*$/,
} as const;

export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v);
  if (typeof v === 'object') return 'an object';
  return String(v);
}

/** Checks one value; returns the normalised leaf or an error message. */
export function checkField(spec: FieldSpec, v: unknown): { value: Leaf } | { error: string } {
  switch (spec.kind) {
    case 'string':
      if (typeof v !== 'string' || v.trim() === '') return { error: `must be a non-empty string${spec.hint ? ` (${spec.hint})` : ''}, not ${describeValue(v)}` };
      if (spec.pattern && !spec.pattern.test(v)) return { error: `must be ${spec.hint ?? `a string matching ${spec.pattern.source}`}, not ${describeValue(v)}` };
      return { value: v };
    case 'url':
    case 'origin': {
      const r = checkEndpointUrl(v, { originOnly: spec.kind === 'origin' });
      return 'error' in r ? r : { value: r.url };
    }
    case 'boolean':
      return typeof v === 'boolean' ? { value: v } : { error: `must be true or false, not ${describeValue(v)}` };
    case 'integer':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < spec.min || v > spec.max)
        return { error: `must be a whole number of seconds from ${spec.min} to ${spec.max}, not ${describeValue(v)}` };
      return { value: v };
    case 'enum':
      return typeof v === 'string' && spec.values.includes(v)
        ? { value: v }
        : { error: `must be one of ${spec.values.map((x) => `"${x}"`).join(', ')}, not ${describeValue(v)}` };
    case 'strings': {
      if (!Array.isArray(v)) return { error: `must be an array of strings (${spec.hint}), not ${describeValue(v)}` };
      if (v.length < spec.minItems) return { error: `must list at least ${spec.minItems} item${spec.minItems > 1 ? 's' : ''}` };
      const bad = v.findIndex((x) => typeof x !== 'string' || !spec.pattern.test(x));
      if (bad >= 0) return { error: `item ${bad} must be ${spec.hint}, not ${describeValue(v[bad])}` };
      return { value: [...new Set(v as string[])] };
    }
  }
}

import { createHmac, hash as sha256Once, type KeyObject } from 'node:crypto';

/**
 * How an access-log line is written and read back.
 *
 * A line is the canonical JSON of the entry (keys sorted by UTF-16 code units, no whitespace,
 * `undefined` dropped) with `"hash"` and, when the log is anchored, `"mac"` appended as the last
 * members:
 *
 *     {"actor":{…},"outcome":"success","prev":"…","seq":7,"time":"…","type":"signIn","hash":"…","mac":"…"}
 *
 * `hash` = SHA-256 and `mac` = HMAC-SHA256 (anchor key) over the canonical entry without `hash`
 * and `mac`, i.e. exactly the bytes of the line before `,"hash"` plus the closing brace. So a
 * verifier hashes the raw line without re-serialising it. Lines written by earlier versions
 * (keys in insertion order, `hash` last) are still verified by re-canonicalising them.
 */

export const GENESIS = '0'.repeat(64);

/** Fields the log itself owns; a caller's values for them are ignored. */
export const CHAIN_FIELDS = new Set(['seq', 'prev', 'hash', 'mac']);

export function sha256Hex(text: string): string {
  return sha256Once('sha256', text, 'hex');
}

export function hmacHex(key: KeyObject, text: string): string {
  return createHmac('sha256', key).update(text, 'utf8').digest('hex');
}

const skipped = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';

/** Canonical JSON of one value (see above). Throws a TypeError naming the field JSON cannot hold. */
export function canonicalJson(value: unknown, where = 'entry'): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return JSON.stringify(value);
    case 'bigint':
      throw new TypeError(`${where} is a BigInt, which JSON cannot hold`);
    case 'object': {
      const withToJson = value as { toJSON?: () => unknown };
      if (typeof withToJson.toJSON === 'function') return canonicalJson(withToJson.toJSON(), where);
      if (Array.isArray(value)) return `[${value.map((x, i) => (skipped(x) ? 'null' : canonicalJson(x, `${where}[${i}]`))).join(',')}]`;
      const o = value as Record<string, unknown>;
      const keys = Object.keys(o)
        .filter((k) => !skipped(o[k]))
        .sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k], `${where}.${k}`)}`).join(',')}}`;
    }
    default:
      throw new TypeError(`${where} is ${typeof value}, which JSON cannot hold`);
  }
}

/** The hash of an entry without its `hash` (and `mac`): SHA-256 over its canonical JSON. */
export function hashEvent(event: object): string {
  return sha256Hex(canonicalJson(event));
}

/** An entry's own fields, each serialised once, sorted by key; chain fields are added at write time. */
export type EntryMembers = ReadonlyArray<readonly [key: string, json: string]>;

/** Serialises the fields of an entry (already redacted) as sorted members, leaving out chain fields. */
export function entryMembers(fields: Record<string, unknown>): EntryMembers {
  return Object.keys(fields)
    .filter((k) => !CHAIN_FIELDS.has(k) && !skipped(fields[k]))
    .sort()
    .map((k) => [k, `${JSON.stringify(k)}:${canonicalJson(fields[k], k)}`] as const);
}

/** One written line with its hash. */
export function sealLine(members: EntryMembers, seq: number, prev: string, key?: KeyObject): { line: string; hash: string } {
  const chain: Array<readonly [string, string]> = [
    ['prev', `"prev":"${prev}"`],
    ['seq', `"seq":${seq}`],
  ];
  const parts: string[] = [];
  let c = 0;
  for (const [k, json] of members) {
    while (c < chain.length && chain[c][0] < k) parts.push(chain[c++][1]);
    parts.push(json);
  }
  while (c < chain.length) parts.push(chain[c++][1]);
  const body = `{${parts.join(',')}}`;
  const hash = sha256Hex(body);
  const mac = key ? `,"mac":"${hmacHex(key, body)}"` : '';
  return { line: `${body.slice(0, -1)},"hash":"${hash}"${mac}}`, hash };
}

/** The canonical body of a written line (the line without `hash` and `mac`), or undefined. */
export function rawBody(line: string, hash: unknown, mac: unknown): string | undefined {
  // Matches the tail `,"hash":"<hash>"[,"mac":"<mac>"]}` in place, without building it.
  if (typeof hash !== 'string' || !line.endsWith('"}')) return undefined;
  let end = line.length - 2; // where the last string value ends
  if (mac !== undefined) {
    if (typeof mac !== 'string') return undefined;
    const at = end - mac.length - 8;
    if (!line.startsWith(',"mac":"', at) || !line.startsWith(mac, at + 8)) return undefined;
    end = at - 1;
    if (line.charCodeAt(end) !== 0x22) return undefined; // the quote closing the hash
  }
  const at = end - hash.length - 9;
  if (at < 1 || !line.startsWith(',"hash":"', at) || !line.startsWith(hash, at + 9)) return undefined;
  return `${line.slice(0, at)}}`;
}

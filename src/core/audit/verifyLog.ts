import type { KeyObject } from 'node:crypto';
import { canonicalJson, GENESIS, hmacHex, rawBody, sha256Hex } from './entryFormat';

/** One place where the log is not what was written. `line` is 1-based (a physical line of the file). */
export interface LogBreak {
  line: number;
  reason: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Entries before the first break (all entries when ok). */
  count: number;
  /** Entries (non-blank lines) in the file. */
  total: number;
  /** The first break, as `breaks[0]` (kept for callers that show one). */
  brokenAt?: LogBreak;
  /** Every break, in line order. */
  breaks: LogBreak[];
  /**
   * 'anchored': checked against the head and key kept in the secret store, so truncation,
   * deletion and a recomputed chain are detected. 'unanchored': the hash chain alone, which
   * catches edits, removals and reordering inside the file, not a shortened or recomputed file.
   */
  anchor: 'anchored' | 'unanchored';
  /** With an anchor: the first entry sealed with the key (earlier ones are held by the chain). */
  sealedFrom?: number;
  /** Breaks beyond the first MAX_BREAKS, counted but not listed. */
  omittedBreaks?: number;
}

/** The last entry a writer recorded in the secret store. It may lag behind the file, never lead. */
export interface LogHead {
  seq: number;
  hash: string;
}

/** What the secret store holds for a log. */
export interface AnchorState {
  key: KeyObject;
  sealedFrom: number;
  head?: LogHead;
}

const MAX_BREAKS = 10_000;

const REASON = {
  json: 'not valid JSON (a torn or damaged line)',
  shape: 'not an access-log entry (no sequence number or hash)',
  edited: 'content does not match its hash (entry edited)',
  link: 'link to the previous entry does not match (entry removed or reordered)',
  noMac: 'entry has no MAC although the log is sealed (entry forged, or the chain was recomputed)',
  badMac: 'MAC does not match (entry forged, or the chain was recomputed)',
  keyMissing: 'entry is sealed, but the sealing key is missing from the secret store (the store was reset, or the file comes from elsewhere)',
};

/** A parsed line: the entry, the bytes its hash and MAC cover, and whether the hash matches. */
interface Analysed {
  e: Record<string, unknown>;
  seq: number;
  hash: string;
  body: string;
  hashOk: boolean;
}

function analyse(line: string): Analysed | 'json' | 'shape' {
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return 'json';
  }
  if (!e || typeof e !== 'object' || !Number.isInteger(e.seq) || typeof e.hash !== 'string') return 'shape';
  const hash = e.hash;
  // Fast path: the line is canonical, hash its bytes. Else (lines of earlier versions, or a
  // reformatted line): re-canonicalise the parsed entry.
  let body = rawBody(line, hash, e.mac);
  let hashOk = body !== undefined && sha256Hex(body) === hash;
  if (!hashOk) {
    const { hash: _h, mac: _m, ...rest } = e;
    body = canonicalJson(rest);
    hashOk = sha256Hex(body) === hash;
  }
  return { e, seq: e.seq as number, hash, body: body!, hashOk };
}

/** Calls `fn` for each line of text[from, to), with 1-based line numbers starting at `firstLine`. */
function forEachLine(text: string, from: number, to: number, firstLine: number, fn: (lineNo: number, line: string, offset: number) => void): void {
  let start = from;
  let lineNo = firstLine;
  while (start < to) {
    let end = text.indexOf('\n', start);
    if (end < 0 || end > to) end = to;
    let line = text.slice(start, end);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    fn(lineNo++, line, start);
    start = end + 1;
  }
}

/**
 * Checks a whole log text: every line parses, `seq` increases by one, each `prev` links to the
 * previous hash, each hash matches its line; with an anchor, sealed entries carry a MAC that
 * matches, and the file still holds the recorded head (not shortened, emptied or rewritten).
 * Reports every break; after a break it resynchronises on the broken entry, so one damaged line
 * is one break.
 *
 * MACs are checked per run of intact links: the hash chain ties every entry of a run to its last
 * entry, so one valid MAC at the end of a run vouches for the whole run. Only a run whose last MAC
 * fails is checked entry by entry, to name each forged line.
 *
 * `anchor === 'missing'`: a secret store is configured but holds no key.
 */
export function verifyLogText(text: string, anchor?: AnchorState | 'missing'): VerifyResult {
  const breaks: LogBreak[] = [];
  let omitted = 0;
  const fail = (line: number, reason: string) => {
    if (breaks.length < MAX_BREAKS) breaks.push({ line, reason });
    else omitted++;
  };
  const sealed = anchor && anchor !== 'missing' ? anchor : undefined;
  let keyMissingReported = false;

  let expectSeq = 1;
  let expectPrev = GENESIS;
  let total = 0;
  let lastLine = 0;
  let lastSeq = 0;
  let headAt: { line: number; hash: string } | undefined;

  // The current run of intact links: where it starts, and its last sealed entry.
  let run: { offset: number; line: number; last?: { body: string; mac: string } } | undefined;
  const closeRun = (endOffset: number) => {
    const r = run;
    run = undefined;
    if (!sealed || !r?.last || hmacHex(sealed.key, r.last.body) === r.last.mac) return;
    forEachLine(text, r.offset, endOffset, r.line, (lineNo, line) => {
      const a = line.trim() ? analyse(line) : undefined;
      if (typeof a !== 'object' || !a.hashOk || a.seq < sealed.sealedFrom || typeof a.e.mac !== 'string') return;
      if (hmacHex(sealed.key, a.body) !== a.e.mac) fail(lineNo, REASON.badMac);
    });
  };

  forEachLine(text, 0, text.length, 1, (lineNo, line, offset) => {
    if (!line.trim()) return;
    total++;
    lastLine = lineNo;
    const a = analyse(line);
    if (typeof a !== 'object') {
      closeRun(offset);
      fail(lineNo, a === 'json' ? REASON.json : REASON.shape);
      return;
    }
    const { e, seq, hash } = a;
    const reasons: string[] = [];
    if (seq !== expectSeq) reasons.push(`sequence ${seq}, expected ${expectSeq}`);
    if (e.prev !== expectPrev) reasons.push(REASON.link);
    if (!a.hashOk) reasons.push(REASON.edited);
    if (reasons.length) closeRun(offset);
    if (a.hashOk) {
      run ??= { offset, line: lineNo };
      if (sealed && seq >= sealed.sealedFrom) {
        if (typeof e.mac === 'string') run.last = { body: a.body, mac: e.mac };
        else reasons.push(REASON.noMac);
      } else if (anchor === 'missing' && e.mac !== undefined && !keyMissingReported) {
        keyMissingReported = true;
        reasons.push(REASON.keyMissing);
      }
    }
    if (reasons.length) fail(lineNo, reasons.join('; '));
    expectSeq = seq + 1;
    expectPrev = hash;
    lastSeq = seq;
    if (sealed?.head && seq === sealed.head.seq) headAt = { line: lineNo, hash };
  });
  closeRun(text.length);

  const head = sealed?.head;
  if (head) {
    if (headAt) {
      if (headAt.hash !== head.hash) fail(headAt.line, `entry ${head.seq} is not the one recorded in the secret store (the log was rewritten)`);
    } else if (total === 0) {
      fail(1, `the log is empty, but ${head.seq} ${head.seq === 1 ? 'entry was' : 'entries were'} recorded (the file was emptied or replaced)`);
    } else if (head.seq > lastSeq) {
      const n = head.seq - lastSeq;
      fail(lastLine + 1, `the log ends at entry ${lastSeq}, but entry ${head.seq} was recorded: ${n} ${n === 1 ? 'entry' : 'entries'} removed from the end`);
    } else {
      fail(lastLine + 1, `entry ${head.seq}, recorded in the secret store, is missing from the log`);
    }
  }

  const merged = mergeByLine(breaks);
  const first = merged[0];
  const result: VerifyResult = {
    ok: merged.length === 0,
    count: first ? countBefore(text, first.line) : total,
    total,
    breaks: merged,
    anchor: sealed ? 'anchored' : 'unanchored',
  };
  if (first) result.brokenAt = first;
  if (sealed) result.sealedFrom = sealed.sealedFrom;
  if (omitted) result.omittedBreaks = omitted;
  return result;
}

/** Sorted by line, one break per line (reasons joined). */
function mergeByLine(breaks: LogBreak[]): LogBreak[] {
  const out: LogBreak[] = [];
  for (const b of [...breaks].sort((x, y) => x.line - y.line)) {
    const last = out[out.length - 1];
    if (last && last.line === b.line) last.reason = `${last.reason}; ${b.reason}`;
    else out.push({ ...b });
  }
  return out;
}

/** Non-blank lines before 1-based line `line`. */
function countBefore(text: string, line: number): number {
  let n = 0;
  forEachLine(text, 0, text.length, 1, (lineNo, l) => {
    if (lineNo < line && l.trim()) n++;
  });
  return n;
}

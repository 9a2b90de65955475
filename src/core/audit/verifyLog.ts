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
function forEachLine(text: string, from: number, to: number, firstLine: number, fn: LineFn): void {
  let start = from;
  let lineNo = firstLine;
  while (start < to) {
    let end = text.indexOf('\n', start);
    if (end < 0 || end > to) end = to;
    fn(lineNo++, text.slice(start, end), start);
    start = end + 1;
  }
}

/** Receives one line (without its newline) with its 1-based number and where it starts. */
export type LineFn = (lineNo: number, line: string, offset: number) => void;

/** Reads lines [from, to) again, numbered from `firstLine`: how a failing run is re-checked. */
export type Reread = (from: number, to: number, firstLine: number, fn: LineFn) => void | Promise<void>;

interface Break extends LogBreak {
  /** Entries before this line. */
  before: number;
}

/**
 * Checks a log line by line, so a file can be streamed through it: every line parses, `seq`
 * increases by one, each `prev` links to the previous hash, each hash matches its line; with an
 * anchor, sealed entries carry a MAC that matches, and the log still holds the recorded head (not
 * shortened, emptied or rewritten). Records every break; after a break it resynchronises on the
 * broken entry, so one damaged line is one break.
 *
 * MACs are checked per run of intact links: the hash chain ties every entry of a run to its last
 * entry, so one valid MAC at the end of a run vouches for the whole run. Only a run whose last MAC
 * fails is read again (`reread`) and checked entry by entry, to name each forged line.
 *
 * `anchor === 'missing'`: a secret store is configured but holds no key.
 */
export class ChainVerifier {
  private readonly breaks: Break[] = [];
  private omitted = 0;
  private readonly sealed?: AnchorState;
  private keyMissingReported = false;
  private expectSeq = 1;
  private expectPrev = GENESIS;
  private total = 0;
  private lastLine = 0;
  private lastSeq = 0;
  private headAt?: { line: number; hash: string; before: number };
  /** The current run of intact links: where it starts, and its last sealed entry. */
  private run?: { offset: number; line: number; before: number; last?: { body: string; mac: string } };
  private readonly failedRuns: Array<{ from: number; to: number; line: number; before: number }> = [];

  constructor(private readonly anchor?: AnchorState | 'missing') {
    this.sealed = anchor && anchor !== 'missing' ? anchor : undefined;
  }

  private fail(line: number, reason: string, before: number): void {
    if (this.breaks.length < MAX_BREAKS) this.breaks.push({ line, reason, before });
    else this.omitted++;
  }

  private closeRun(endOffset: number): void {
    const r = this.run;
    this.run = undefined;
    if (!this.sealed || !r?.last || hmacHex(this.sealed.key, r.last.body) === r.last.mac) return;
    this.failedRuns.push({ from: r.offset, to: endOffset, line: r.line, before: r.before });
  }

  line(lineNo: number, raw: string, offset: number): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (!line.trim()) return;
    const before = this.total++;
    this.lastLine = lineNo;
    const a = analyse(line);
    if (typeof a !== 'object') {
      this.closeRun(offset);
      this.fail(lineNo, a === 'json' ? REASON.json : REASON.shape, before);
      return;
    }
    const { e, seq, hash } = a;
    const reasons: string[] = [];
    if (seq !== this.expectSeq) reasons.push(`sequence ${seq}, expected ${this.expectSeq}`);
    if (e.prev !== this.expectPrev) reasons.push(REASON.link);
    if (!a.hashOk) reasons.push(REASON.edited);
    if (reasons.length) this.closeRun(offset);
    if (a.hashOk) {
      this.run ??= { offset, line: lineNo, before };
      if (this.sealed && seq >= this.sealed.sealedFrom) {
        if (typeof e.mac === 'string') this.run.last = { body: a.body, mac: e.mac };
        else reasons.push(REASON.noMac);
      } else if (this.anchor === 'missing' && e.mac !== undefined && !this.keyMissingReported) {
        this.keyMissingReported = true;
        reasons.push(REASON.keyMissing);
      }
    }
    if (reasons.length) this.fail(lineNo, reasons.join('; '), before);
    this.expectSeq = seq + 1;
    this.expectPrev = hash;
    this.lastSeq = seq;
    if (this.sealed?.head && seq === this.sealed.head.seq) this.headAt = { line: lineNo, hash, before };
  }

  /** `endOffset`: where the log ends (for the last run); `reread` re-reads runs whose MAC failed. */
  async finish(endOffset: number, reread: Reread): Promise<VerifyResult> {
    this.closeRun(endOffset);
    for (const r of this.failedRuns) await reread(r.from, r.to, r.line, this.recheck(r.before));
    return this.result();
  }

  /** Synchronous finish, for a reread that is synchronous (text in memory). */
  finishSync(endOffset: number, reread: (from: number, to: number, firstLine: number, fn: LineFn) => void): VerifyResult {
    this.closeRun(endOffset);
    for (const r of this.failedRuns) reread(r.from, r.to, r.line, this.recheck(r.before));
    return this.result();
  }

  private recheck(before: number): LineFn {
    const sealed = this.sealed!;
    let n = before;
    return (lineNo, raw) => {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (!line.trim()) return;
      const at = n++;
      const a = analyse(line);
      if (typeof a !== 'object' || !a.hashOk || a.seq < sealed.sealedFrom || typeof a.e.mac !== 'string') return;
      if (hmacHex(sealed.key, a.body) !== a.e.mac) this.fail(lineNo, REASON.badMac, at);
    };
  }

  private result(): VerifyResult {
    const head = this.sealed?.head;
    if (head) {
      const h = this.headAt;
      if (h) {
        if (h.hash !== head.hash) this.fail(h.line, `entry ${head.seq} is not the one recorded in the secret store (the log was rewritten)`, h.before);
      } else if (this.total === 0) {
        this.fail(1, `the log is empty, but ${head.seq} ${head.seq === 1 ? 'entry was' : 'entries were'} recorded (the file was emptied or replaced)`, 0);
      } else if (head.seq > this.lastSeq) {
        const n = head.seq - this.lastSeq;
        this.fail(this.lastLine + 1, `the log ends at entry ${this.lastSeq}, but entry ${head.seq} was recorded: ${n} ${n === 1 ? 'entry' : 'entries'} removed from the end (or lost in a system crash)`, this.total);
      } else {
        this.fail(this.lastLine + 1, `entry ${head.seq}, recorded in the secret store, is missing from the log`, this.total);
      }
    }
    const merged = mergeByLine(this.breaks);
    const first = merged[0];
    const result: VerifyResult = {
      ok: merged.length === 0,
      count: first ? first.before : this.total,
      total: this.total,
      breaks: merged.map(({ line, reason }) => ({ line, reason })),
      anchor: this.sealed ? 'anchored' : 'unanchored',
    };
    if (first) result.brokenAt = result.breaks[0];
    if (this.sealed) result.sealedFrom = this.sealed.sealedFrom;
    if (this.omitted) result.omittedBreaks = this.omitted;
    return result;
  }
}

/** Checks a whole log text (see ChainVerifier). */
export function verifyLogText(text: string, anchor?: AnchorState | 'missing'): VerifyResult {
  const v = new ChainVerifier(anchor);
  forEachLine(text, 0, text.length, 1, (n, l, o) => v.line(n, l, o));
  return v.finishSync(text.length, (from, to, line, fn) => forEachLine(text, from, to, line, fn));
}

/** Sorted by line, one break per line (reasons joined). */
function mergeByLine(breaks: Break[]): Break[] {
  const out: Break[] = [];
  for (const b of [...breaks].sort((x, y) => x.line - y.line)) {
    const last = out[out.length - 1];
    if (last && last.line === b.line) last.reason = `${last.reason}; ${b.reason}`;
    else out.push({ ...b });
  }
  return out;
}

import { UserFacingError } from '../errors';

/** One XML element: local name (namespace prefix dropped), attributes, children, own text. */
export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** A character reference's code point, if XML allows that character (XML 1.0 §2.2 Char). */
function charRef(codePoint: number, ref: string): string {
  const ok =
    codePoint === 0x9 || codePoint === 0xa || codePoint === 0xd || (codePoint >= 0x20 && codePoint <= 0xd7ff) || (codePoint >= 0xe000 && codePoint <= 0xfffd) || (codePoint >= 0x10000 && codePoint <= 0x10ffff);
  if (!ok) throw new XmlSyntaxError(`character reference ${ref.slice(0, 16)} is not a character`);
  return String.fromCodePoint(codePoint);
}

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-z]+);/g, (m, e: string) => {
    if (e.startsWith('#x')) return charRef(parseInt(e.slice(2), 16), m);
    if (e.startsWith('#')) return charRef(parseInt(e.slice(1), 10), m);
    if (Object.prototype.hasOwnProperty.call(ENTITIES, e)) return ENTITIES[e];
    throw new XmlSyntaxError(`unknown entity ${m.slice(0, 16)}`);
  });
}

export class XmlSyntaxError extends Error {
  override readonly name = 'XmlSyntaxError';
}

const NAME = '[A-Za-z_][\\w.:-]*';
const ATTR = new RegExp(`\\s+(${NAME})\\s*=\\s*("([^"]*)"|'([^']*)')`, 'gy');
const END_TAG = new RegExp(`</(${NAME})\\s*>`, 'y');
const START_TAG = new RegExp(`<(${NAME})`, 'y');
const WHITESPACE = /\s*/y;

/**
 * A small, strict parser for the XML of AWS query-protocol responses: elements, attributes,
 * text, character references, comments and the XML declaration. DOCTYPE, CDATA and
 * processing instructions are refused (no entity expansion, so no XXE), as is anything
 * not well formed.
 */
export function parseXml(input: string): XmlElement {
  let i = 0;
  const src = input.replace(/^\uFEFF/, '');
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const skipMisc = () => {
    for (;;) {
      WHITESPACE.lastIndex = i;
      WHITESPACE.exec(src);
      i = WHITESPACE.lastIndex;
      if (src.startsWith('<!--', i)) {
        const end = src.indexOf('-->', i + 4);
        if (end < 0) throw new XmlSyntaxError('unterminated comment');
        i = end + 3;
      } else return;
    }
  };
  if (src.startsWith('<?xml', i)) {
    const end = src.indexOf('?>', i);
    if (end < 0) throw new XmlSyntaxError('unterminated XML declaration');
    i = end + 2;
  }
  skipMisc();
  while (i < src.length) {
    if (src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i + 4);
      if (end < 0) throw new XmlSyntaxError('unterminated comment');
      i = end + 3;
      continue;
    }
    if (src.startsWith('<!', i) || src.startsWith('<?', i)) throw new XmlSyntaxError(`unsupported markup at offset ${i}`);
    if (src.startsWith('</', i)) {
      const m = END_TAG;
      m.lastIndex = i;
      const r = m.exec(src);
      if (!r) throw new XmlSyntaxError(`malformed end tag at offset ${i}`);
      const open = stack.pop();
      if (!open || open.name !== localName(r[1])) throw new XmlSyntaxError(`end tag </${r[1]}> does not match <${open?.name ?? 'nothing'}>`);
      i = m.lastIndex;
      if (!stack.length) {
        root = open;
        break;
      }
      continue;
    }
    if (src[i] === '<') {
      const nameRe = START_TAG;
      nameRe.lastIndex = i;
      const r = nameRe.exec(src);
      if (!r) throw new XmlSyntaxError(`malformed start tag at offset ${i}`);
      // No prototype: an attribute named __proto__ or constructor is an attribute like any other.
      const el: XmlElement = { name: localName(r[1]), attributes: Object.create(null) as Record<string, string>, children: [], text: '' };
      i = nameRe.lastIndex;
      for (;;) {
        ATTR.lastIndex = i;
        const a = ATTR.exec(src);
        if (!a) break;
        if (Object.prototype.hasOwnProperty.call(el.attributes, a[1])) throw new XmlSyntaxError(`duplicate attribute ${a[1]}`);
        el.attributes[a[1]] = decode(a[3] ?? a[4] ?? '');
        i = ATTR.lastIndex;
      }
      const close = /\s*(\/?)>/y;
      close.lastIndex = i;
      const c = close.exec(src);
      if (!c) throw new XmlSyntaxError(`malformed start tag <${el.name}>`);
      i = close.lastIndex;
      if (stack.length) stack[stack.length - 1].children.push(el);
      else if (root) throw new XmlSyntaxError('more than one root element');
      if (c[1] === '/') {
        if (!stack.length) {
          root = el;
          break;
        }
      } else stack.push(el);
      continue;
    }
    if (!stack.length) throw new XmlSyntaxError('text outside the root element');
    const next = src.indexOf('<', i);
    if (next < 0) throw new XmlSyntaxError(`unclosed element <${stack[stack.length - 1].name}>`);
    const raw = src.slice(i, next);
    if (raw.includes(']]>')) throw new XmlSyntaxError('"]]>" in text');
    stack[stack.length - 1].text += decode(raw);
    i = next;
  }
  if (stack.length || !root) throw new XmlSyntaxError(stack.length ? `unclosed element <${stack[stack.length - 1].name}>` : 'no root element');
  skipMisc();
  if (i < src.length) throw new XmlSyntaxError('content after the root element');
  return root;
}

function localName(qname: string): string {
  const colon = qname.indexOf(':');
  return colon >= 0 ? qname.slice(colon + 1) : qname;
}

/** The single child with this name; undefined when absent, an error when repeated. */
export function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  if (!el) return undefined;
  const found = el.children.filter((c) => c.name === name);
  if (found.length > 1) throw new XmlSyntaxError(`<${name}> appears ${found.length} times in <${el.name}>`);
  return found[0];
}

function textAt(el: XmlElement | undefined, ...path: string[]): string | undefined {
  let cur = el;
  for (const p of path) cur = child(cur, p);
  return cur?.text.trim() || undefined;
}

export interface AssumedRoleSession {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** Epoch ms. */
  expiration: number;
  assumedRoleArn: string;
}

/** AssumeRoleWithWebIdentityResponse/AssumeRoleWithWebIdentityResult (aws-sts-2011-06-15, resultWrapper). */
export function parseAssumeRoleWithWebIdentityResponse(xml: string): AssumedRoleSession {
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch (e) {
    throw new UserFacingError('protocol', `AWS STS answered with malformed XML (${(e as Error).message}).`, 'Check the AWS STS endpoint setting.');
  }
  const bad = (what: string) => new UserFacingError('protocol', `AWS STS answered without ${what}.`, 'Check the AWS STS endpoint setting.');
  if (root.name !== 'AssumeRoleWithWebIdentityResponse') throw bad(`an AssumeRoleWithWebIdentityResponse (got <${root.name}>)`);
  try {
    const result = child(root, 'AssumeRoleWithWebIdentityResult');
    const creds = child(result, 'Credentials');
    const accessKeyId = textAt(creds, 'AccessKeyId');
    const secretAccessKey = textAt(creds, 'SecretAccessKey');
    const sessionToken = textAt(creds, 'SessionToken');
    const expirationText = textAt(creds, 'Expiration');
    const assumedRoleArn = textAt(result, 'AssumedRoleUser', 'Arn');
    if (!accessKeyId || !secretAccessKey || !sessionToken) throw bad('Credentials/AccessKeyId, SecretAccessKey and SessionToken');
    const expiration = expirationText ? Date.parse(expirationText) : NaN;
    if (Number.isNaN(expiration)) throw bad('a valid Credentials/Expiration');
    if (!assumedRoleArn) throw bad('AssumedRoleUser/Arn');
    return { accessKeyId, secretAccessKey, sessionToken, expiration, assumedRoleArn };
  } catch (e) {
    if (e instanceof XmlSyntaxError) throw bad(`a well-formed result (${e.message})`);
    throw e;
  }
}

export interface AwsErrorBody {
  type?: string;
  code: string;
  message: string;
}

/** ErrorResponse/Error/{Type,Code,Message}; undefined when the text is not such a document. */
export function parseAwsError(xml: string): AwsErrorBody | undefined {
  try {
    const root = parseXml(xml);
    const err = root.name === 'ErrorResponse' ? child(root, 'Error') : root.name === 'Error' ? root : undefined;
    const code = textAt(err, 'Code');
    if (!code) return undefined;
    return { code, message: textAt(err, 'Message') ?? '', type: textAt(err, 'Type') };
  } catch {
    return undefined;
  }
}

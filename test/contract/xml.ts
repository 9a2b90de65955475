/**
 * A minimal XML reader for the AWS query-protocol responses under test: elements, text and
 * attributes; no DTDs, comments or CDATA (the emulator never emits them, and a response that
 * did would fail to parse, which is what a contract test wants).
 */
export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

function decode(text: string): string {
  return text.replace(/&(lt|gt|amp|quot|apos);/g, (_m, e: string) => ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" })[e] ?? '');
}

export function parseXml(xml: string): XmlElement {
  const body = xml.replace(/^\s*<\?xml[^?]*\?>/, '');
  const root: XmlElement = { name: '#document', attributes: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  const tokens = /<\/([\w:.-]+)\s*>|<([\w:.-]+)((?:\s+[\w:.-]+="[^"]*")*)\s*(\/?)>|([^<]+)/g;
  let consumed = 0;
  for (const m of body.matchAll(tokens)) {
    if (m.index !== consumed) throw new Error(`unexpected markup at ${consumed}`);
    consumed += m[0].length;
    const top = stack[stack.length - 1];
    if (m[1]) {
      if (top.name !== m[1]) throw new Error(`</${m[1]}> closes <${top.name}>`);
      stack.pop();
    } else if (m[2]) {
      const attributes: Record<string, string> = {};
      for (const a of (m[3] ?? '').matchAll(/([\w:.-]+)="([^"]*)"/g)) attributes[a[1]] = decode(a[2]);
      const el: XmlElement = { name: m[2], attributes, children: [], text: '' };
      top.children.push(el);
      if (!m[4]) stack.push(el);
    } else if (m[5]) {
      if (m[5].trim() && top === root) throw new Error('text outside the root element');
      top.text += decode(m[5]);
    }
  }
  if (consumed !== body.length) throw new Error(`unparsed input at ${consumed}`);
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1].name}>`);
  if (root.children.length !== 1) throw new Error('expected exactly one root element');
  return root.children[0];
}

export function child(el: XmlElement, name: string): XmlElement {
  const found = el.children.filter((c) => c.name === name);
  if (found.length !== 1) throw new Error(`<${el.name}> has ${found.length} <${name}> children`);
  return found[0];
}

/** Parses `key=value` pairs separated by commas or new lines; values may be quoted. */
export function parseJobParameters(text: string): Record<string, string> | { error: string } {
  const out: Record<string, string> = {};
  for (const part of text.split(/[,\n]/).map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq < 1) return { error: `"${part}" is not key=value` };
    const key = part.slice(0, eq).trim();
    if (!/^[\w.-]+$/.test(key)) return { error: `"${key}" is not a valid parameter name` };
    out[key] = part.slice(eq + 1).trim().replace(/^(["'])(.*)\1$/, '$2');
  }
  return out;
}

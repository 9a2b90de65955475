import type { AccessTestReport } from './evaluateAccessTests';

/** Text for an XML attribute or element: escaped, without characters XML 1.0 forbids. */
export function xmlText(v: string): string {
  let clean = '';
  for (const ch of v) {
    const c = ch.codePointAt(0)!;
    const allowed = c === 0x9 || c === 0xa || c === 0xd || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
    clean += allowed ? ch : '\ufffd';
  }
  return clean
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/**
 * A JUnit XML report (the format CI systems render): one testcase per case and invariant, with
 * its file and line; problems in the test file are one testcase with an <error>.
 */
export function junitReport(report: AccessTestReport, file: string, suiteName = 'ML Spanner access policy'): string {
  const cases: string[] = [];
  for (const r of report.results) {
    const attrs = `name="${xmlText(r.name)}" classname="${xmlText(file)}" file="${xmlText(file)}" line="${r.line}"`;
    if (r.passed) cases.push(`    <testcase ${attrs}/>`);
    else {
      const body = r.failures.map((f) => `${file}:${f.line}: ${f.message}`).join('\n');
      cases.push(`    <testcase ${attrs}>`, `      <failure message="${xmlText(r.failures[0]?.message ?? 'failed')}" type="AccessPolicyMismatch">${xmlText(body)}</failure>`, '    </testcase>');
    }
  }
  const errors = report.errors.length ? 1 : 0;
  if (errors) {
    const body = report.errors.map((e) => `${file}:${e.line}:${e.column}: ${e.path}: ${e.message}`).join('\n');
    cases.push(
      `    <testcase name="test file is valid" classname="${xmlText(file)}" file="${xmlText(file)}" line="${report.errors[0].line}">`,
      `      <error message="${xmlText(`${report.errors.length} problem(s) in the test file`)}" type="AccessTestFileError">${xmlText(body)}</error>`,
      '    </testcase>',
    );
  }
  const tests = report.results.length + errors;
  const counts = `tests="${tests}" failures="${report.failed}" errors="${errors}"`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xmlText(suiteName)}" ${counts}>`,
    `  <testsuite name="${xmlText(file)}" ${counts}>`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

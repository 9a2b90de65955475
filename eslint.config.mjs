import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'out/', 'node_modules/', 'test-results/', '.cache/', '**/*.mjs', '**/*.cjs', 'test/e2e/toolProbe/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      'no-console': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The core is plain TypeScript: it runs and is tested without VS Code.
    files: ['src/core/**'],
    ignores: ['src/core/access/**', 'src/core/credentials/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'vscode', message: 'src/core must not import vscode: put VS Code code in src/vscode.' }],
          patterns: [{ group: ['**/credentials/CredentialBroker'], message: 'Credentials come from the access gate (src/core/access/AccessGate.ts), never from the broker directly.' }],
        },
      ],
    },
  },
  {
    files: ['src/core/access/**', 'src/core/credentials/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'src/core must not import vscode: put VS Code code in src/vscode.' }] }] },
  },
  {
    // The shell gets credentials from the gate only.
    files: ['src/vscode/**', 'bench/**', 'scripts/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/credentials/CredentialBroker'], importNames: ['CredentialBroker'], message: 'Credentials come from the access gate (AccessGate.credential), never from the broker directly.' },
            { group: ['**/test/**', '../test/*'], message: 'bench/ and scripts/ do not import from test/.' },
          ],
        },
      ],
    },
  },
  {
    // Servers and command-line scripts print to the console on purpose.
    files: ['sandbox/**', 'scripts/**', 'bench/**', 'test/**'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['test/**'],
    rules: { 'no-restricted-syntax': ['error', { selector: "MemberExpression[property.name='only']", message: 'No .only in committed tests.' }] },
  },
);

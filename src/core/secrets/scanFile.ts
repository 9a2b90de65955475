import { scanNotebookJson } from './scanNotebookJson';
import { scanSecrets, type SecretFinding } from './scanSecrets';
import { secretLanguageOf, type SecretLanguage } from './secretLanguage';

/** Files above this size are not scanned (data dumps, not code). */
export const MAX_SCAN_BYTES = 2 * 1024 * 1024;

/**
 * Secrets in one file, by its name (and VS Code language id when known). Undefined when the
 * file is not of a scanned kind or too large.
 */
export function scanFile(fileName: string, text: string, languageId?: string): { language: SecretLanguage; findings: SecretFinding[] } | undefined {
  const language = secretLanguageOf(fileName, languageId);
  if (!language || text.length > MAX_SCAN_BYTES) return undefined;
  return { language, findings: language === 'ipynb' ? scanNotebookJson(text) : scanSecrets(text, language) };
}

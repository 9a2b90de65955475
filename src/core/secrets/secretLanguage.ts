/**
 * Which syntax the secret scanner applies to a file: by VS Code language id first, then by
 * file name. Databricks source notebooks (`# Databricks notebook source`) are Python, Scala,
 * SQL or R files with a first-line marker; they are scanned as their language.
 */
export type SecretLanguage = 'python' | 'scala' | 'r' | 'sql' | 'dotenv' | 'yaml' | 'json' | 'ipynb';

const BY_LANGUAGE_ID: Record<string, SecretLanguage> = {
  python: 'python',
  scala: 'scala',
  r: 'r',
  sql: 'sql',
  dotenv: 'dotenv',
  properties: 'dotenv',
  yaml: 'yaml',
  json: 'json',
  jsonc: 'json',
  // Notebook cells that VS Code names by their kernel's language.
  'databricks-sql': 'sql',
};

const BY_EXTENSION: Record<string, SecretLanguage> = {
  '.py': 'python',
  '.scala': 'scala',
  '.sc': 'scala',
  '.r': 'r',
  '.sql': 'sql',
  '.env': 'dotenv',
  '.yml': 'yaml',
  '.yaml': 'yaml',
  '.json': 'json',
  '.ipynb': 'ipynb',
};

/** The glob of files the workspace scan reads. */
export const SECRET_SCAN_GLOB = '**/{*.py,*.ipynb,*.sql,*.scala,*.r,*.R,*.env,.env,.env.*,*.yml,*.yaml,*.json}';

/** Folders the workspace scan skips: dependencies, build output, version control. */
export const SECRET_SCAN_EXCLUDE = '**/{node_modules,.git,.venv,venv,__pycache__,.tox,dist,build,out,site-packages,.ipynb_checkpoints}/**';

/** Lock files: generated, large, full of integrity hashes; never where someone pastes a token. */
const LOCK_FILE = /(?:^package-lock\.json|^npm-shrinkwrap\.json|\.lock\.json|^Pipfile\.lock|^composer\.lock|\.min\.json)$/i;

export function secretLanguageOf(fileName: string, languageId?: string): SecretLanguage | undefined {
  const base = fileName.replace(/\\/g, '/').split('/').pop() ?? fileName;
  if (LOCK_FILE.test(base)) return undefined;
  // .ipynb is JSON on disk but a notebook of cells; decide by name before the JSON language id.
  if (/\.ipynb$/i.test(base)) return languageId && languageId !== 'json' && BY_LANGUAGE_ID[languageId] ? BY_LANGUAGE_ID[languageId] : 'ipynb';
  if (languageId && BY_LANGUAGE_ID[languageId]) return BY_LANGUAGE_ID[languageId];
  if (/^\.env(\..+)?$/i.test(base)) return 'dotenv';
  const dot = base.lastIndexOf('.');
  return dot > 0 ? BY_EXTENSION[base.slice(dot).toLowerCase()] : undefined;
}

/**
 * The language of a notebook cell from its VS Code language id, with a `%sql` / `%scala` /
 * `%r` / `%python` magic on its first line taking precedence (Databricks, sparkmagic).
 * Undefined for markdown and other cells the scanner does not read as code.
 */
export function cellLanguageOf(languageId: string, text: string): SecretLanguage | undefined {
  const magic = /^\s*%%?(sql|scala|r|python)\b/i.exec(text)?.[1].toLowerCase();
  if (magic === 'sql' || magic === 'scala' || magic === 'r' || magic === 'python') return magic;
  const lang = BY_LANGUAGE_ID[languageId];
  return lang && lang !== 'ipynb' ? lang : undefined;
}

/** The language of a Databricks source notebook's cells from its first line, if it is one. */
export function databricksNotebookLanguage(text: string): SecretLanguage | undefined {
  const first = text.slice(0, 80);
  if (/^# Databricks notebook source/.test(first)) return 'python';
  if (/^\/\/ Databricks notebook source/.test(first)) return 'scala';
  if (/^-- Databricks notebook source/.test(first)) return 'sql';
  return undefined;
}

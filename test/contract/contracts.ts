import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * The machine-readable wire contracts of the real services, copied into the repository
 * (fixtures/SOURCES.md says where each came from). MLSPANNER_CONTRACTS_DIR checks against
 * another copy with the same file names, e.g. newer versions.
 */
export const CONTRACTS_DIR = process.env.MLSPANNER_CONTRACTS_DIR ?? resolve(__dirname, 'fixtures');

/** Absolute path of a contract file; a clear error when it is missing. */
export function contractPath(file: string): string {
  const full = resolve(CONTRACTS_DIR, file);
  if (!existsSync(full)) {
    const from = process.env.MLSPANNER_CONTRACTS_DIR ? `MLSPANNER_CONTRACTS_DIR (${CONTRACTS_DIR})` : 'test/contract/fixtures';
    throw new Error(`contract file ${file} is not in ${from}; see test/contract/fixtures/SOURCES.md for the files the tests read`);
  }
  return full;
}

export function readContract(file: string): string {
  return readFileSync(contractPath(file), 'utf8');
}

export function loadContract<T = unknown>(file: string): T {
  return JSON.parse(readContract(file)) as T;
}

export interface DiscoverySchema {
  id: string;
  type: string;
  properties: Record<string, { type?: string; format?: string; items?: { type?: string } }>;
}

export interface DiscoveryMethod {
  httpMethod: string;
  path: string;
  flatPath?: string;
  parameters?: Record<string, { pattern?: string; location?: string }>;
  request?: { $ref: string };
  response?: { $ref: string };
}

export interface DiscoveryDocument {
  schemas: Record<string, DiscoverySchema>;
  resources: Record<string, DiscoveryResource>;
}

interface DiscoveryResource {
  methods?: Record<string, DiscoveryMethod>;
  resources?: Record<string, DiscoveryResource>;
}

/** Finds a method by its `id` (e.g. "sts.token") anywhere in the resource tree. */
export function discoveryMethod(doc: DiscoveryDocument, id: string): DiscoveryMethod {
  const walk = (resources: Record<string, DiscoveryResource>): DiscoveryMethod | undefined => {
    for (const r of Object.values(resources)) {
      for (const m of Object.values(r.methods ?? {})) if ((m as { id?: string }).id === id) return m;
      const inner = r.resources && walk(r.resources);
      if (inner) return inner;
    }
    return undefined;
  };
  const found = walk(doc.resources);
  if (!found) throw new Error(`method ${id} not in discovery document`);
  return found;
}

/** Checks a JSON value against a discovery schema's property names and primitive types. */
export function schemaViolations(doc: DiscoveryDocument, schemaId: string, value: Record<string, unknown>): string[] {
  const schema = doc.schemas[schemaId];
  if (!schema) return [`no schema ${schemaId}`];
  const problems: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    const prop = schema.properties[key];
    if (!prop) {
      problems.push(`${key} is not a property of ${schemaId}`);
      continue;
    }
    const type = prop.type;
    const ok =
      (type === 'string' && typeof v === 'string') ||
      (type === 'integer' && Number.isInteger(v)) ||
      (type === 'number' && typeof v === 'number') ||
      (type === 'boolean' && typeof v === 'boolean') ||
      (type === 'array' && Array.isArray(v)) ||
      (type === 'object' && typeof v === 'object' && v !== null) ||
      (prop.format === 'int64' && typeof v === 'string' && /^-?\d+$/.test(v));
    if (!ok) problems.push(`${key}: ${JSON.stringify(v)} is not of type ${type}${prop.format ? ` (${prop.format})` : ''}`);
    if (ok && prop.format === 'google-datetime' && Number.isNaN(Date.parse(v as string))) problems.push(`${key} is not an RFC 3339 time`);
  }
  return problems;
}

export function camelToSnake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** AWS JSON model (min) as in aws-sts-2011-06-15.min.json. */
export interface AwsShape {
  type?: string;
  shape?: string;
  required?: string[];
  members?: Record<string, AwsShape>;
  resultWrapper?: string;
}

export interface AwsModel {
  metadata: { apiVersion: string; protocol: string; xmlNamespace: string };
  operations: Record<string, { input: AwsShape; output: AwsShape }>;
  shapes: Record<string, AwsShape>;
}

/** Follows `shape` references of the minified model. */
export function resolveShape(model: AwsModel, shape: AwsShape): AwsShape {
  return shape.shape ? resolveShape(model, model.shapes[shape.shape]) : shape;
}

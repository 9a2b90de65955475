import type { AnyTargetSpec } from './CredentialTargetSpec';
import { awsTarget } from './awsTarget';
import { databricksTarget } from './databricksTarget';
import { googleTarget } from './googleTarget';

/** Reserved top-level keys of an environment definition: no target may use them as its section. */
const RESERVED = new Set(['extends', 'requiredGroups', 'confirm', 'maxTtlSeconds']);

/** The credential targets, in display order. Everything that handles targets iterates this. */
export class TargetRegistry {
  private readonly byId = new Map<string, AnyTargetSpec>();
  private readonly bySection = new Map<string, AnyTargetSpec>();

  constructor(specs: readonly AnyTargetSpec[] = []) {
    for (const s of specs) this.register(s);
  }

  register(spec: AnyTargetSpec): this {
    if (!/^[a-z][a-zA-Z0-9]*$/.test(spec.id)) throw new Error(`Target id "${spec.id}" must be a lowerCamel identifier.`);
    if (this.byId.has(spec.id)) throw new Error(`Target "${spec.id}" is registered twice.`);
    if (RESERVED.has(spec.section) || this.bySection.has(spec.section)) throw new Error(`Target "${spec.id}" cannot use the section "${spec.section}".`);
    this.byId.set(spec.id, spec);
    this.bySection.set(spec.section, spec);
    return this;
  }

  all(): readonly AnyTargetSpec[] {
    return [...this.byId.values()];
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }

  get(id: string): AnyTargetSpec | undefined {
    return this.byId.get(id);
  }

  /** The spec for a known id; throws for an unknown one (a programming error, not user input). */
  spec(id: string): AnyTargetSpec {
    const s = this.byId.get(id);
    if (!s) throw new Error(`Unknown credential target "${id}".`);
    return s;
  }

  forSection(section: string): AnyTargetSpec | undefined {
    return this.bySection.get(section);
  }

  /** A new registry with these targets added (tests and extensions register their own). */
  with(...specs: AnyTargetSpec[]): TargetRegistry {
    return new TargetRegistry([...this.all(), ...specs]);
  }
}

/** Databricks, Google (ML Spanner) and AWS. */
export const BUILTIN_TARGETS = new TargetRegistry([databricksTarget, googleTarget, awsTarget]);

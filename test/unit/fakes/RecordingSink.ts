import type { AccessEventInput, AccessEventSink } from '../../../src/core/audit/AccessLog';

export class RecordingSink implements AccessEventSink {
  readonly events: AccessEventInput[] = [];
  record(e: AccessEventInput): void {
    this.events.push(e);
  }
  types(): string[] {
    return this.events.map((e) => e.type);
  }
}

import type { SpannerDatabase } from './SpannerEmulator';
import type { Cell, DatabaseContent, Model, Table } from './sqlEngine';

/**
 * Demo content of the sandbox Spanner: a churn use case. `customers` feeds the remote model
 * `churn_model` (registered in real Spanner by `CREATE MODEL ... REMOTE OPTIONS(endpoint=...)`);
 * `features` carries one column of every other type the emulator encodes.
 */

const CUSTOMER_ROWS: Array<[number, string | null, number, number, boolean]> = [
  [1001, 'DE', 2, 89.9, true],
  [1002, 'DE', 36, 42.5, false],
  [1003, 'FR', 5, 120.0, true],
  [1004, 'US', 60, 35.0, false],
  [1005, 'DE', 12, 64.0, false],
  [1006, 'JP', 1, 150.25, true],
  [1007, 'DE', 48, 20.0, false],
  [1008, 'US', 3, 99.99, true],
  [1009, 'GB', 24, 55.0, false],
  [1010, 'DE', 7, 110.0, true],
  [1011, 'FR', 30, 45.0, false],
  [1012, 'US', 18, 70.0, false],
  [1013, 'DE', 4, 75.5, true],
  [1014, null, 9, 60.0, false],
  [1015, 'FR', 2, 130.0, true],
  [1016, 'DE', 72, 18.5, false],
  [1017, 'GB', 6, 95.0, true],
  [1018, 'US', 40, 25.0, false],
  [1019, 'JP', 15, 80.0, false],
  [1020, 'FR', 11, 66.6, false],
];

export const CUSTOMERS: Table = {
  name: 'customers',
  columns: [
    { name: 'customer_id', type: { code: 'INT64' } },
    { name: 'country', type: { code: 'STRING' } },
    { name: 'tenure_months', type: { code: 'INT64' } },
    { name: 'monthly_spend', type: { code: 'FLOAT64' } },
    { name: 'churned', type: { code: 'BOOL' } },
  ],
  rows: CUSTOMER_ROWS.map((r) => [...r]),
};

export const FEATURES: Table = {
  name: 'features',
  columns: [
    { name: 'customer_id', type: { code: 'INT64' } },
    { name: 'snapshot_date', type: { code: 'DATE' } },
    { name: 'updated_at', type: { code: 'TIMESTAMP' } },
    { name: 'lifetime_value', type: { code: 'NUMERIC' } },
    { name: 'engagement', type: { code: 'FLOAT64' } },
    { name: 'tags', type: { code: 'ARRAY', arrayElementType: { code: 'STRING' } } },
    { name: 'attributes', type: { code: 'JSON' } },
    { name: 'avatar_hash', type: { code: 'BYTES' } },
  ],
  rows: (
    [
      [1001, '2025-06-01', '2025-06-01T08:15:30.123456789Z', '179.80', 0.42, ['new', 'mobile'], '{"plan":"basic","seats":1}', 'q83v'],
      [1002, '2025-06-01', '2025-06-01T09:00:00Z', '1530.00', 0.91, ['loyal'], '{"plan":"pro","seats":5}', 'AAEC'],
      [1003, '2025-06-01', '2025-06-02T17:45:00Z', '600.00', NaN, [], '{"plan":"pro","seats":2}', null],
      [1004, '2025-06-02', '2025-06-02T10:30:00Z', '2100.00', Infinity, ['loyal', null, 'web'], null, '/w=='],
      [1005, '2025-06-02', '2025-06-03T12:00:00Z', '99999999999999999999999999999.999999999', 0.5, null, '{"plan":"team","seats":12}', 'AQ=='],
    ] as Cell[][]
  ).map((r) => [...r]),
};

/** Churn risk from tenure and spend: a fixed logistic model, so predictions are reproducible. */
export function churnProbability(tenureMonths: number, monthlySpend: number): number {
  const z = 1.5 - 0.12 * tenureMonths + 0.015 * monthlySpend;
  return 1 / (1 + Math.exp(-z));
}

export const CHURN_MODEL: Model = {
  name: 'churn_model',
  inputs: ['tenure_months', 'monthly_spend'],
  outputs: [
    { name: 'predicted_churned', type: { code: 'BOOL' } },
    { name: 'churn_probability', type: { code: 'FLOAT64' } },
  ],
  predict: ({ tenure_months, monthly_spend }) => {
    const p = churnProbability(tenure_months, monthly_spend);
    return [p >= 0.5, p];
  },
};

/** Fresh copies, so one emulator's state never leaks into another's. */
export function demoContent(): DatabaseContent {
  const copy = (t: Table): Table => ({ ...t, rows: t.rows.map((r) => r.map((c) => (Array.isArray(c) ? [...c] : c))) });
  return { tables: [copy(CUSTOMERS), copy(FEATURES)], models: [CHURN_MODEL] };
}

/**
 * The sandbox's databases and their readers, mirroring IAM bindings: `features` is readable by
 * each environment's IdP group (federated tokens) and service account; `billing` only by the
 * prod service account, so other identities see PERMISSION_DENIED.
 */
export function sandboxSpannerDatabases(opts: { project: string; instance: string; groups: string[]; serviceAccounts: string[]; prodServiceAccount: string }): SpannerDatabase[] {
  const base = `projects/${opts.project}/instances/${opts.instance}/databases`;
  return [
    { name: `${base}/features`, readers: { groups: opts.groups, principals: opts.serviceAccounts }, content: demoContent() },
    { name: `${base}/billing`, readers: { principals: [opts.prodServiceAccount] }, content: demoContent() },
  ];
}

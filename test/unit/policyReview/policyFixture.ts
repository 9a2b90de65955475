/** The policy the matrix and diff tests share: dev ← staging ← prod by extends, and an open sandbox. */
export const AUD = '//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ml/providers/corp';
export const POLICY = {
  dev: {
    requiredGroups: ['ml-dev'],
    databricks: { host: 'https://dev.cloud.databricks.com' },
    spanner: { project: 'ml-dev', instance: 'ml', database: 'features', workloadIdentityAudience: AUD },
    aws: { roleArn: 'arn:aws:iam::111122223333:role/ml-dev', region: 'us-east-1' },
  },
  staging: { extends: 'dev', requiredGroups: ['ml-staging'], databricks: { host: 'https://staging.cloud.databricks.com' }, aws: { roleArn: 'arn:aws:iam::111122223333:role/ml-staging' } },
  prod: {
    extends: 'staging',
    requiredGroups: ['ml-prod'],
    maxTtlSeconds: 900,
    databricks: { host: 'https://prod.cloud.databricks.com', clientId: 'sp-prod' },
    spanner: { serviceAccount: 'runner@ml-prod.iam.gserviceaccount.com' },
    aws: { roleArn: 'arn:aws:iam::444455556666:role/ml-prod', sessionDurationSeconds: 900 },
  },
  sandbox: { databricks: { host: 'https://sandbox.cloud.databricks.com' } },
};

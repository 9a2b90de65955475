/** Demo accounts of the sandbox identity provider. The password is public on the login page. */
export interface DemoUser {
  username: string;
  password: string;
  name: string;
  email: string;
  groups: string[];
}

export const DEMO_PASSWORD = 'demo';

export const DEMO_USERS: readonly DemoUser[] = [
  { username: 'alice', password: DEMO_PASSWORD, name: 'Alice Example', email: 'alice@example.com', groups: ['ml-dev', 'ml-staging'] },
  { username: 'bob', password: DEMO_PASSWORD, name: 'Bob Example', email: 'bob@example.com', groups: ['ml-dev'] },
  { username: 'carol', password: DEMO_PASSWORD, name: 'Carol Example', email: 'carol@example.com', groups: ['ml-dev', 'ml-staging', 'ml-prod'] },
];

export function findUser(username: string): DemoUser | undefined {
  return DEMO_USERS.find((u) => u.username === username.trim().toLowerCase());
}

/** OIDC claims of a user; `sub` is the stable username. */
export function userClaims(user: DemoUser): Record<string, unknown> {
  return {
    sub: user.username,
    name: user.name,
    email: user.email,
    email_verified: true,
    preferred_username: user.username,
    groups: [...user.groups],
  };
}

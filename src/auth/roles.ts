/**
 * `admin` administers its own org. `platform-admin` is the operator's role (granted only by whoever issues the
 * tokens): an admin of its own org who may also read views across orgs (GET /api/metrics?org=…).
 */
export const ROLES = ['member', 'auditor', 'admin', 'platform-admin'] as const;
export type Role = (typeof ROLES)[number];

/** Routes open to every role of an org (platform-admin passes as admin). */
export const ANY_ROLE = ['member', 'auditor', 'admin'] as const satisfies readonly Role[];

/** Whether a caller of `role` may use a route open to `roles` (platform-admin can do what admin can). */
export function roleAllows(roles: readonly Role[], role: Role): boolean {
  return roles.includes(role) || (role === 'platform-admin' && roles.includes('admin'));
}

/** An org id as tokens, routes and the CLI accept it. */
export const ORG_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

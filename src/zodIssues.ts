/** Zod issues as callrec reports them: `where.path: message`, never the rejected value. */

interface Issue {
  path: readonly PropertyKey[];
  message: string;
}

/**
 * Where an issue is: `prefix.a.b` (or `prefix` alone for the root) with a prefix, else `a.b` (or `root` for the
 * root itself, e.g. `(data)`).
 */
export function issuePath(issue: Issue, opts: { prefix?: string; root?: string } = {}): string {
  const path = issue.path.map(String).join('.');
  if (opts.prefix) return path ? `${opts.prefix}.${path}` : opts.prefix;
  return path || (opts.root ?? '');
}

/** One issue as `path: message`. */
export function describeZodIssue(issue: Issue, opts: { prefix?: string; root?: string } = {}): string {
  return `${issuePath(issue, opts)}: ${issue.message}`;
}

/** Every issue, `; `-separated. */
export function formatZodIssues(issues: readonly Issue[], opts: { prefix?: string; root?: string } = {}): string {
  return issues.map((i) => describeZodIssue(i, opts)).join('; ');
}

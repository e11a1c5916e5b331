/**
 * Text PostgreSQL cannot store in jsonb — NUL (U+0000) and lone UTF-16 surrogates — replaced by U+FFFD.
 * A webhook carrying such characters is still a real call: it is stored with them replaced, and the
 * event says which fields were touched, instead of being refused (a 5xx that a retrying sender would
 * redeliver forever).
 */

const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function sanitizeString(s: string): string {
  return s.replace(UNSTORABLE, '\ufffd');
}

/** Could JSON text `raw` decode to an unstorable string? (Only the escapes \u0000 and \uD800–\uDFFF can produce one.) */
export function mayNeedSanitizing(raw: string): boolean {
  return /\\u(0000|[dD][89a-fA-F])/.test(raw);
}

/** A copy of a parsed JSON value with unstorable characters replaced, and the paths (`message.artifact.transcript`) where that happened. */
export function sanitizeJson(value: unknown): { value: unknown; paths: string[] } {
  const paths: string[] = [];
  const walk = (v: unknown, path: string): unknown => {
    if (typeof v === 'string') {
      UNSTORABLE.lastIndex = 0;
      if (!UNSTORABLE.test(v)) return v;
      paths.push(path || '(root)');
      return sanitizeString(v);
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}[${i}]`));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        const key = sanitizeString(k);
        if (key !== k) paths.push(`${path ? `${path}.` : ''}${key} (key)`);
        out[key] = walk(x, path ? `${path}.${key}` : key);
      }
      return out;
    }
    return v;
  };
  const clean = walk(value, '');
  return { value: clean, paths: paths.slice(0, 50) };
}

import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Kysely } from 'kysely';
import type { DB, OrgMappingsTable } from '../db/schema.ts';
import { ORG_ID_RE } from '../auth/roles.ts';

export type MappingKind = OrgMappingsTable['kind'];
export { ORG_ID_RE };

export interface OrgResolver {
  resolve(keys: { assistantId: string | null; phoneNumberId: string | null; vapiOrgId: string | null }): Promise<string>;
  /** Forget the cached mappings (after a change made in this process). */
  invalidate(): void;
}

/**
 * The org of a call: the mapping of its assistant, else of its phone number, else of its Vapi org, else the
 * default org. Resolved from an in-memory copy of org_mappings, reloaded at most every `ttlMs`: the webhook path
 * then costs no database round trip. A mapping changed by another process (the CLI) applies within ttlMs.
 */
export function createOrgResolver(db: Kysely<DB>, defaultOrg: string, ttlMs = 5000): OrgResolver {
  let cache: Map<string, string> | undefined;
  let loadedAt = 0;
  let loading: Promise<Map<string, string>> | undefined;
  const load = async () => {
    const rows = await db.selectFrom('org_mappings').select(['kind', 'value', 'org_id']).execute();
    return new Map(rows.map((r) => [`${r.kind}\u0000${r.value}`, r.org_id]));
  };
  return {
    async resolve(keys) {
      if (!cache || Date.now() - loadedAt > ttlMs) {
        loading ??= load().finally(() => (loading = undefined));
        cache = await loading;
        loadedAt = Date.now();
      }
      const hit = (kind: MappingKind, value: string | null) => (value ? cache!.get(`${kind}\u0000${value}`) : undefined);
      return hit('assistant', keys.assistantId) ?? hit('phone_number', keys.phoneNumberId) ?? hit('vapi_org', keys.vapiOrgId) ?? defaultOrg;
    },
    invalidate() {
      cache = undefined;
    },
  };
}

export async function setOrgMapping(db: Kysely<DB>, kind: MappingKind, value: string, orgId: string): Promise<void> {
  if (!ORG_ID_RE.test(orgId)) throw new Error(`org id ${JSON.stringify(orgId)} must be 1-64 letters, digits, _ or -`);
  if (!value || value.length > 200) throw new Error('mapping value must be 1-200 characters');
  await db
    .insertInto('org_mappings')
    .values({ kind, value, org_id: orgId })
    .onConflict((oc) => oc.columns(['kind', 'value']).doUpdateSet({ org_id: orgId }))
    .execute();
}

export async function removeOrgMapping(db: Kysely<DB>, kind: MappingKind, value: string): Promise<boolean> {
  const r = await db.deleteFrom('org_mappings').where('kind', '=', kind).where('value', '=', value).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function listOrgMappings(db: Kysely<DB>) {
  return db.selectFrom('org_mappings').selectAll().orderBy('kind').orderBy('value').execute();
}

const orgMapFile = z.object({
  assistants: z.record(z.string(), z.string().regex(ORG_ID_RE)).default({}),
  phoneNumbers: z.record(z.string(), z.string().regex(ORG_ID_RE)).default({}),
  vapiOrgs: z.record(z.string(), z.string().regex(ORG_ID_RE)).default({}),
});

/** Loads ORG_MAP_FILE (`{ assistants: {id: org}, phoneNumbers: {...}, vapiOrgs: {...} }`) into org_mappings. */
export async function loadOrgMapFile(db: Kysely<DB>, file: string): Promise<number> {
  let parsed: z.infer<typeof orgMapFile>;
  try {
    parsed = orgMapFile.parse(JSON.parse(await readFile(file, 'utf8')));
  } catch (err) {
    throw new Error(`ORG_MAP_FILE ${file}: ${(err as Error).message}`);
  }
  let n = 0;
  for (const [kind, map] of [['assistant', parsed.assistants], ['phone_number', parsed.phoneNumbers], ['vapi_org', parsed.vapiOrgs]] as const) {
    for (const [value, org] of Object.entries(map)) {
      await setOrgMapping(db, kind, value, org);
      n++;
    }
  }
  return n;
}

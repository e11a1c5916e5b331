import { sql, type Kysely } from 'kysely';
import type { DB } from './schema.ts';

/**
 * Leases make one instance the runner of a projector or process. A holder renews before `ttlMs` runs out;
 * when it dies, the lease expires and another instance takes over. Projectors and processes hold one through
 * leaseKeeper.
 */
async function acquireLease(db: Kysely<DB>, name: string, owner: string, ttlMs: number): Promise<boolean> {
  const row = await sql<{ owner: string }>`
    insert into ${sql.table('leases')} (name, owner, expires_at) values (${name}, ${owner}, now() + make_interval(secs => ${ttlMs / 1000}))
    on conflict (name) do update set owner = excluded.owner, expires_at = excluded.expires_at
      where leases.owner = excluded.owner or leases.expires_at < now()
    returning owner`.execute(db);
  return row.rows.length === 1;
}

async function releaseLease(db: Kysely<DB>, name: string, owner: string): Promise<void> {
  await db.deleteFrom('leases').where('name', '=', name).where('owner', '=', owner).execute();
}

export interface LeaseKeeper {
  /** True while this instance holds the lease (renewing it as needed). */
  hold(): Promise<boolean>;
  /** Renews now, however recently it was renewed (true while held); throws when the database fails. */
  renew(): Promise<boolean>;
  release(): Promise<void>;
}

export function leaseKeeper(db: Kysely<DB>, name: string, owner: string, ttlMs: number): LeaseKeeper {
  let held = false;
  let renewedAt = 0;
  return {
    async hold() {
      if (held && Date.now() - renewedAt < ttlMs / 3) return true;
      try {
        held = await acquireLease(db, name, owner, ttlMs);
      } catch {
        held = false;
      }
      if (held) renewedAt = Date.now();
      return held;
    },
    async renew() {
      // A failed renewal leaves `held` as it was, so release() still removes a lease this instance may hold.
      held = await acquireLease(db, name, owner, ttlMs);
      if (held) renewedAt = Date.now();
      return held;
    },
    async release() {
      if (held) await releaseLease(db, name, owner).catch(() => {});
      held = false;
    },
  };
}

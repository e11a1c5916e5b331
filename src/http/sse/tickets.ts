import { createHash, randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { Caller, Role } from '../auth.ts';

/**
 * SSE tickets: EventSource cannot send an Authorization header, and a JWT in a URL ends up in proxy logs.
 * The page exchanges its bearer token for a ticket (POST /api/events/ticket) and opens
 * GET /api/events?ticket=…. A ticket is 32 random bytes, lives SSE_TICKET_TTL_SECONDS and works once:
 * only its SHA-256 is stored (table sse_tickets), and redeeming deletes the row in the statement that
 * reads it, so two instances on one database can never both accept it.
 */
export const SSE_TICKET_TTL_SECONDS = 60;

const sha256 = (ticket: string) => createHash('sha256').update(ticket).digest('hex');

export async function issueSseTicket(db: Kysely<DB>, caller: Caller, now: Date): Promise<{ ticket: string; expiresAt: Date }> {
  const ticket = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + SSE_TICKET_TTL_SECONDS * 1000);
  // Expired tickets nobody redeemed are removed as new ones are issued (an index on expires_at).
  await sql`delete from ${sql.table('sse_tickets')} where expires_at < ${now}`.execute(db);
  await sql`insert into ${sql.table('sse_tickets')} (ticket_sha256, user_id, org_id, role, expires_at)
            values (${sha256(ticket)}, ${caller.userId}, ${caller.orgId}, ${caller.role}, ${expiresAt})`.execute(db);
  return { ticket, expiresAt };
}

export type RedeemResult = { ok: true; caller: Caller } | { ok: false; reason: 'unknown_or_used' | 'expired' };

export async function redeemSseTicket(db: Kysely<DB>, ticket: string, now: Date): Promise<RedeemResult> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(ticket)) return { ok: false, reason: 'unknown_or_used' };
  const res = await sql<{ user_id: string; org_id: string; role: string; expires_at: Date | string }>`
    delete from ${sql.table('sse_tickets')} where ticket_sha256 = ${sha256(ticket)} returning user_id, org_id, role, expires_at`.execute(db);
  const row = res.rows[0];
  if (!row) return { ok: false, reason: 'unknown_or_used' };
  if (new Date(row.expires_at).getTime() <= now.getTime()) return { ok: false, reason: 'expired' };
  return { ok: true, caller: { userId: row.user_id, orgId: row.org_id, role: row.role as Role } };
}

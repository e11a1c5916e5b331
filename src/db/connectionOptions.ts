import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';

/** TLS parameters of a connection string that callrec interprets itself (pg would read them differently). */
const TLS_PARAMS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'uselibpqcompat', 'sslcompat'];

export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';

export interface PgConnection {
  /** The connection string without its TLS parameters. */
  connectionString: string;
  ssl: false | ConnectionOptions;
  sslmode: SslMode;
}

/**
 * Reads `sslmode` the way libpq documents it, not the way node-postgres 8 does (which treats `require` as
 * `verify-full` and would refuse Supabase's or any self-signed server):
 * - `disable` (or absent): plain TCP;
 * - `require`: encrypted, the server's certificate is not checked;
 * - `verify-ca`: encrypted, certificate signed by the CA (`caCert`, else the system's CAs), any host name;
 * - `verify-full`: as verify-ca, and the certificate must name the host.
 * `caCert` is a PEM text or the path of a PEM file (DATABASE_CA_CERT).
 */
export function pgConnection(url: string, caCert?: string): PgConnection {
  const u = new URL(url);
  const mode = u.searchParams.get('sslmode') ?? 'disable';
  for (const p of TLS_PARAMS) u.searchParams.delete(p);
  const connectionString = u.toString();
  const ca = caCert ? readCa(caCert) : undefined;
  switch (mode) {
    case 'disable':
      return { connectionString, ssl: false, sslmode: 'disable' };
    case 'require':
      return { connectionString, ssl: { rejectUnauthorized: false }, sslmode: 'require' };
    case 'verify-ca':
      return { connectionString, ssl: { rejectUnauthorized: true, ...(ca ? { ca } : {}), checkServerIdentity: () => undefined }, sslmode: 'verify-ca' };
    case 'verify-full':
      return { connectionString, ssl: { rejectUnauthorized: true, ...(ca ? { ca } : {}) }, sslmode: 'verify-full' };
    default:
      throw new Error(`sslmode=${mode} in the database URL is not supported: use disable, require, verify-ca or verify-full`);
  }
}

function readCa(value: string): string {
  if (value.includes('-----BEGIN')) return value;
  try {
    return readFileSync(value, 'utf8');
  } catch (err) {
    throw new Error(`DATABASE_CA_CERT: cannot read the CA certificate file ${value} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** Whether LISTEN can work on this connection: not through a transaction-mode pooler. */
export function listenPossible(url: string, pooler: 'transaction' | 'session' | 'none' | undefined): boolean {
  if (pooler === 'transaction') return false;
  if (pooler === 'session' || pooler === 'none') return true;
  // Supabase's Supavisor serves transaction mode on port 6543 (session mode on 5432).
  return new URL(url).port !== '6543';
}

/** An error message for a TLS failure that says what to set. */
export function describeConnectError(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { message: string };
  const code = e?.code ?? '';
  if (/CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS/.test(code)) {
    return `TLS verification of the database server failed (${code}: ${e.message}); with sslmode=verify-full or verify-ca set DATABASE_CA_CERT to the server's CA certificate (a path or PEM)`;
  }
  if (/does not support SSL/i.test(e?.message ?? '')) return `the database server does not accept TLS (${e.message}); use sslmode=disable or turn ssl on at the server`;
  return e?.message ?? String(err);
}

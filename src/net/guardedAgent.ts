import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { isIpLiteral, stripBrackets, type AddressPolicy } from './addressPolicy.ts';
import { addressRefusedError } from './downloadErrors.ts';

/**
 * An HTTP agent that checks every connection it makes against the address policy, when it is made, so that
 * DNS rebinding cannot slip a private address past a check done earlier.
 */

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

/** The system resolver (`dns.lookup`, all addresses). */
export async function defaultResolve(hostname: string): Promise<ResolvedAddress[]> {
  const all = await dnsLookup(hostname, { all: true, verbatim: true });
  return all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
}

/**
 * A `net.connect` lookup that resolves the name and refuses the connection when any address it resolves to is
 * outside the policy (a name with one public and one private record is refused as a whole).
 */
function validatingLookup(policy: AddressPolicy, resolve: Resolver): LookupFunction {
  return ((hostname: string, options: { family?: number | string; all?: boolean }, callback: (...args: unknown[]) => void) => {
    resolve(hostname).then(
      (resolved) => {
        const family = options?.family === 4 || options?.family === 'IPv4' ? 4 : options?.family === 6 || options?.family === 'IPv6' ? 6 : 0;
        const usable = family ? resolved.filter((r) => r.family === family) : resolved;
        if (usable.length === 0) {
          callback(Object.assign(new Error(`${hostname} did not resolve`), { code: 'ENOTFOUND' }));
          return;
        }
        for (const r of usable) {
          const verdict = policy.check(r.address);
          if (!verdict.ok) {
            callback(addressRefusedError(hostname, r.address, verdict.reason));
            return;
          }
        }
        if (options?.all) callback(null, usable);
        else callback(null, usable[0]!.address, usable[0]!.family);
      },
      (err: unknown) => callback(err),
    );
  }) as LookupFunction;
}

/**
 * An undici dispatcher whose every new connection is checked: IP-literal hosts against the policy directly
 * (net.connect skips lookup for them), names through the validating lookup.
 */
export function createGuardedAgent(policy: AddressPolicy, resolve: Resolver): Agent {
  const base = buildConnector({ lookup: validatingLookup(policy, resolve) });
  return new Agent({
    connections: 4,
    connect(opts, callback) {
      const host = stripBrackets(opts.hostname);
      if (isIpLiteral(host)) {
        const verdict = policy.check(host);
        if (!verdict.ok) {
          callback(addressRefusedError(host, host, verdict.reason), null);
          return;
        }
      }
      base(opts, callback);
    },
  });
}

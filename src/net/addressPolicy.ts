import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { Result } from '../result.ts';

/**
 * Which IP addresses callrec may connect to when it fetches a recording.
 *
 * Only globally routable unicast addresses pass. Loopback, private (RFC 1918), link-local (cloud metadata at
 * 169.254.169.254), CGNAT, unspecified, broadcast, multicast, reserved/documentation ranges and their IPv6
 * equivalents (::1, fc00::/7, fe80::/10, IPv4-mapped/compatible/translated forms, 6to4, Teredo, NAT64) are
 * refused unless an operator lists them in `allowedAddresses` (an exact IP or a CIDR).
 */

type Ip = ipaddr.IPv4 | ipaddr.IPv6;
type Cidr = [Ip, number];

export type AddressVerdict = Result<{ address: string }, { address: string; reason: string }>;

export interface AddressPolicy {
  check(address: string): AddressVerdict;
}

/** IPv6 prefixes that embed or translate to IPv4 and are not covered by ipaddr.js's ranges. */
const extraIpv6Refused: Cidr[] = [
  ipaddr.IPv6.parseCIDR('::/96'), // IPv4-compatible (deprecated), e.g. ::127.0.0.1
  ipaddr.IPv6.parseCIDR('64:ff9b:1::/48'), // local-use NAT64 (RFC 8215)
];

function parseAllowed(entry: string): Cidr {
  const trimmed = entry.trim();
  if (trimmed.includes('/')) {
    const [ip, bits] = ipaddr.parseCIDR(trimmed);
    return normaliseCidr(ip, bits);
  }
  const ip = ipaddr.parse(stripBrackets(trimmed));
  return normaliseCidr(ip, ip.kind() === 'ipv4' ? 32 : 128);
}

/** An IPv4-mapped IPv6 CIDR (::ffff:a.b.c.d/120) is treated as the IPv4 CIDR it maps. */
function normaliseCidr(ip: Ip, bits: number): Cidr {
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    return [(ip as ipaddr.IPv6).toIPv4Address(), bits - 96];
  }
  return [ip, bits];
}

export function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** True when `host` is an IP literal (v4 or v6, with or without brackets). */
export function isIpLiteral(host: string): boolean {
  return isIP(stripBrackets(host)) !== 0;
}

/**
 * Build a policy. Throws on a malformed `allowedAddresses` entry (a configuration error, reported at start-up).
 */
export function createAddressPolicy(allowedAddresses: readonly string[] = []): AddressPolicy {
  const allowed = allowedAddresses.map((entry) => {
    try {
      return parseAllowed(entry);
    } catch {
      throw new Error(`allowedAddresses: "${entry}" is not an IP address or CIDR`);
    }
  });

  function isExplicitlyAllowed(ip: Ip): boolean {
    return allowed.some(([net, bits]) => net.kind() === ip.kind() && ip.match(net, bits));
  }

  return {
    check(address: string): AddressVerdict {
      const raw = stripBrackets(address.split('%')[0] ?? address);
      if (!ipaddr.isValid(raw)) return { ok: false, address, reason: 'not an IP address' };
      // process() turns an IPv4-mapped IPv6 address (::ffff:127.0.0.1) into the IPv4 address it maps.
      const ip: Ip = ipaddr.process(raw);
      if (isExplicitlyAllowed(ip)) return { ok: true, address };
      const range = ip.range();
      if (range !== 'unicast') return { ok: false, address, reason: `${range} address` };
      if (ip.kind() === 'ipv6' && extraIpv6Refused.some(([net, bits]) => ip.match(net, bits))) {
        return { ok: false, address, reason: 'IPv6 address that embeds IPv4' };
      }
      return { ok: true, address };
    },
  };
}

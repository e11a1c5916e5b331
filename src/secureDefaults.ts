import ipaddr from 'ipaddr.js';
import { ConfigError, type Config } from './config.ts';

/**
 * Secure by default: without API authentication (AUTH_JWT_SECRET / AUTH_JWKS_URL) or webhook authentication
 * (VAPI_WEBHOOK_SECRET / VAPI_WEBHOOK_HMAC_SECRET) callrec serves only on a loopback address (HOST then
 * defaults to 127.0.0.1), unless CALLREC_INSECURE_DEV=true says so explicitly. Anything else stops start-up.
 */

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopback(address: string | undefined): boolean {
  if (!address || !ipaddr.isValid(address)) return false;
  return ipaddr.process(address).range() === 'loopback';
}

/** A listen address that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || isLoopback(host.replace(/^\[(.*)\]$/, '$1'));
}

export type SecurityState =
  | { mode: 'secured'; api: string; webhooks: string }
  | { mode: 'local-only' | 'insecure-dev'; missing: string[] }
  | { mode: 'refused'; missing: string[]; message: string };

/** What the configuration allows: fully secured, unsecured on loopback, explicitly insecure, or refused. */
export function securityState(config: Config): SecurityState {
  const missing: string[] = [];
  if (config.devAuth) missing.push('AUTH_JWT_SECRET (or AUTH_JWKS_URL)');
  if (!config.VAPI_WEBHOOK_SECRET && !config.VAPI_WEBHOOK_HMAC_SECRET) missing.push('VAPI_WEBHOOK_SECRET (or VAPI_WEBHOOK_HMAC_SECRET)');
  if (missing.length === 0) {
    return {
      mode: 'secured',
      api: config.AUTH_JWKS_URL ? (config.AUTH_JWT_SECRET ? 'AUTH_JWT_SECRET and AUTH_JWKS_URL' : 'AUTH_JWKS_URL') : 'AUTH_JWT_SECRET',
      webhooks: config.VAPI_WEBHOOK_HMAC_SECRET ? 'VAPI_WEBHOOK_HMAC_SECRET' : 'VAPI_WEBHOOK_SECRET',
    };
  }
  if (isLoopbackHost(config.HOST)) return { mode: 'local-only', missing };
  if (config.CALLREC_INSECURE_DEV) return { mode: 'insecure-dev', missing };
  return {
    mode: 'refused',
    missing,
    message:
      `callrec refuses to listen on HOST=${config.HOST} without authentication: set ${missing.join(' and ')}. ` +
      'Without them callrec serves only on a loopback address (leave HOST unset or 127.0.0.1), or set ' +
      'CALLREC_INSECURE_DEV=true to accept unauthenticated requests from anywhere (development only).',
  };
}

/** Throws the start-up error when the configuration would serve unauthenticated requests beyond this machine. */
export function assertSafeToServe(config: Config): SecurityState {
  const state = securityState(config);
  if (state.mode === 'refused') throw new ConfigError([state.message]);
  return state;
}

/** One line for logs and `callrec doctor`. */
export function describeSecurityState(state: SecurityState): string {
  switch (state.mode) {
    case 'secured':
      return `API tokens verified with ${state.api}, webhooks with ${state.webhooks}`;
    case 'local-only':
      return `no ${state.missing.join(', no ')}: serving on loopback only (development)`;
    case 'insecure-dev':
      return `CALLREC_INSECURE_DEV=true: no ${state.missing.join(', no ')}, unauthenticated requests accepted from anywhere`;
    case 'refused':
      return state.message;
  }
}

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Config } from '../../config.ts';
import type { HttpDeps } from '../context.ts';

/**
 * The dashboard page at `/`: static files from src/http/dashboard (plain JS modules, no build step), read
 * once at start and served from memory with an ETag. The page gets a strict Content-Security-Policy: scripts
 * and styles only from this origin (no inline code), audio from this origin and the recording storage,
 * requests only to this origin, no frames, no plugins.
 */

export const DASHBOARD_DIR = fileURLToPath(new URL('../dashboard/', import.meta.url));
export const ASSET_PREFIX = '/dashboard/';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function asset(body: Buffer, type: string): Asset {
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

/** Every servable file of the dashboard directory (by name; no sub-directories, no other extensions). */
export function loadDashboardAssets(dir = DASHBOARD_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (!type || !/^[a-z0-9][a-z0-9.-]*$/i.test(name)) continue;
    assets.set(name, asset(readFileSync(join(dir, name)), type));
  }
  if (!assets.has('index.html')) throw new Error(`dashboard: ${dir}index.html is missing`);
  return assets;
}

/** Origins (scheme://host:port) the page may load recordings from, besides its own. */
export function mediaOrigins(config: Pick<Config, 'STORAGE' | 'SUPABASE_URL' | 'PUBLIC_BASE_URL' | 'publicBaseUrl'>): string[] {
  const origins = new Set<string>();
  const add = (u: string | undefined) => {
    if (!u) return;
    try {
      const url = new URL(u);
      if (url.protocol === 'http:' || url.protocol === 'https:') origins.add(url.origin);
    } catch {
      // not a URL: nothing to allow
    }
  };
  if (config.STORAGE === 'supabase') add(config.SUPABASE_URL);
  else add(config.PUBLIC_BASE_URL ?? config.publicBaseUrl);
  return [...origins];
}

/** The page's Content-Security-Policy. */
export function dashboardCsp(media: string[]): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `media-src 'self'${media.map((m) => ` ${m}`).join('')}`,
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** What the page needs to know about this instance (no secrets). */
export function dashboardClientConfig(config: Config) {
  return {
    devAuth: config.devAuth,
    orgClaim: config.AUTH_ORG_CLAIM,
    roleClaim: config.AUTH_ROLE_CLAIM,
    urlExpirySeconds: config.RECORDING_URL_EXPIRY_SECONDS,
  };
}

function send(ctx: Context, a: Asset, headers: Record<string, string> = {}) {
  ctx.set('Cache-Control', 'no-cache');
  ctx.set('ETag', a.etag);
  ctx.set('X-Content-Type-Options', 'nosniff');
  for (const [k, v] of Object.entries(headers)) ctx.set(k, v);
  if (ctx.get('if-none-match') === a.etag) {
    ctx.status = 304;
    return;
  }
  ctx.type = a.type;
  ctx.body = a.body;
}

/** Route module for createHttpApp: GET / (the page), GET /dashboard/<file>, GET /dashboard/config.json. */
export function registerDashboard(router: Router, deps: HttpDeps) {
  const assets = loadDashboardAssets();
  const index = assets.get('index.html')!;
  const pageHeaders = {
    'Content-Security-Policy': dashboardCsp(mediaOrigins(deps.config)),
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'DENY',
    'Cross-Origin-Opener-Policy': 'same-origin',
  };
  const clientConfig = asset(Buffer.from(JSON.stringify(dashboardClientConfig(deps.config))), 'application/json; charset=utf-8');

  router.get('/', (ctx) => send(ctx, index, pageHeaders));
  router.get('/index.html', (ctx) => send(ctx, index, pageHeaders));
  router.get(`${ASSET_PREFIX}config.json`, (ctx) => send(ctx, clientConfig));
  router.get(`${ASSET_PREFIX}:file`, (ctx, next) => {
    const name = ctx.params.file ?? '';
    const a = name === 'index.html' ? undefined : assets.get(name);
    if (!a) return next();
    send(ctx, a);
  });
}

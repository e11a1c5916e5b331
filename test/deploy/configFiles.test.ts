import { readFile } from 'node:fs/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CONFIG_KEYS } from '../../src/config.ts';

/**
 * The deployment files stay complete: every variable of the configuration schema (src/config.ts) is in
 * .env.example (with a line of meaning above it), in render.yaml and in the README's configuration table.
 * A variable added to the schema without them fails here.
 */

const test = suite('deploy: .env.example, render.yaml, README and Dockerfile');
const read = (f: string) => readFile(f, 'utf8');

test('.env.example lists every variable, each under a comment saying what it means', async () => {
  const lines = (await read('.env.example')).split('\n');
  for (const key of CONFIG_KEYS) {
    const i = lines.findIndex((l) => new RegExp(`^(# )?${key}=`).test(l));
    assert.ok(i >= 0, `.env.example lacks ${key}`);
    const above = lines[i - 1] ?? '';
    assert.ok(/^# \S/.test(above) && !/^# [A-Z0-9_]+=/.test(above), `${key} has no line of meaning above it`);
  }
  // Copying the example changes nothing: every uncommented line is empty (= unset).
  for (const l of lines.filter((x) => /^[A-Z0-9_]+=/.test(x))) assert.ok(/^[A-Z0-9_]+=$/.test(l), `${l} sets a value`);
});

test('render.yaml declares every variable; secrets are sync: false, never written down', async () => {
  const text = await read('render.yaml');
  assert.match(text, /type: web/);
  assert.match(text, /healthCheckPath: \/health/);
  const entries = [...text.matchAll(/- key: (\w+)\n\s+(value: "[^"]*"|sync: false)/g)].map((m) => [m[1]!, m[2]!] as const);
  const byKey = new Map(entries);
  for (const key of CONFIG_KEYS) assert.ok(byKey.has(key), `render.yaml lacks ${key}`);
  for (const secret of ['DATABASE_URL', 'AUTH_JWT_SECRET', 'VAPI_WEBHOOK_SECRET', 'VAPI_WEBHOOK_HMAC_SECRET', 'VAPI_API_KEY', 'SUPABASE_SERVICE_ROLE_KEY', 'METRICS_TOKEN', 'RECORDING_SIGNING_SECRET']) {
    assert.is(byKey.get(secret), 'sync: false', secret);
  }
  assert.is(byKey.get('CALLREC_INSECURE_DEV'), 'value: "false"');
});

test('README documents every variable', async () => {
  const readme = await read('README.md');
  for (const key of CONFIG_KEYS) assert.match(readme, `\`${key}\``, `README lacks ${key}`);
});

test('Dockerfile: two node:20-slim stages, production dependencies only, non-root, HEALTHCHECK on /health without curl', async () => {
  const text = await read('Dockerfile');
  assert.is((text.match(/^FROM node:20-slim/gm) ?? []).length, 2);
  assert.match(text, /RUN npm run build/);
  assert.match(text, /npm ci --omit=dev/);
  assert.match(text, /^USER node$/m);
  assert.match(text, /^HEALTHCHECK [\s\S]*node[\s\S]*\/health/m);
  assert.not.match(text, /curl|wget/);
  assert.match(text, /^CMD \["node", "dist\/main\.js"\]$/m);
  for (const copied of ['COPY --from=build /app/dist dist', 'COPY bin bin', 'COPY db db']) assert.match(text, copied);
});

test.run();

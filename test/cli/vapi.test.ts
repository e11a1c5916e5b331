import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { makeFakeAssistants, startFakeVapiApi, type FakeVapiApi } from '../fakes/vapiApi.ts';
import { runCli } from '../support/cli.ts';

/** `callrec vapi ensure-recording` as a user runs it: `node bin/callrec.js`, against a local fake of Vapi's API. */

const API_KEY = 'vapi-private-key-for-cli-tests';


const test = suite<{ api: FakeVapiApi; dataDir: string; env: Record<string, string> }>('callrec vapi ensure-recording');

test.before.each(async (ctx) => {
  ctx.api = await startFakeVapiApi({ apiKey: API_KEY, assistants: makeFakeAssistants(8) });
  ctx.dataDir = await mkdtemp(path.join(tmpdir(), 'callrec-cli-vapi-'));
  ctx.env = { DATA_DIR: ctx.dataDir, VAPI_API_URL: ctx.api.url, VAPI_API_KEY: API_KEY };
});
test.after.each(async (ctx) => {
  await ctx.api?.close();
  if (ctx.dataDir) await rm(ctx.dataDir, { recursive: true, force: true });
});

const enabledCount = (api: FakeVapiApi) => [...api.assistants.values()].filter((a) => (a.artifactPlan as { recordingEnabled?: unknown } | undefined)?.recordingEnabled === true).length;

test('without VAPI_API_KEY it says which variable to set and changes nothing', async ({ api, env }) => {
  const { VAPI_API_KEY: _key, ...rest } = env;
  const r = await runCli(['vapi', 'ensure-recording'], rest);
  assert.is(r.code, 2);
  assert.match(r.stderr, /VAPI_API_KEY/);
  assert.is(api.requests.length, 0);
});

test('--dry-run prints the table and patches nothing', async ({ api, env }) => {
  const r = await runCli(['vapi', 'ensure-recording', '--dry-run'], env);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /ASSISTANT ID\s+NAME\s+BEFORE\s+ACTION/);
  assert.is((r.stdout.match(/would-enable/g) ?? []).length, 6);
  assert.match(r.stdout, /total 8, enabled 0, unchanged 2, would enable 6, failed 0 \(dry run: nothing was changed\)/);
  assert.is(api.patchCount, 0);
  assert.is(enabledCount(api), 2);
});

test('enables recording everywhere, then finds nothing to do', async ({ api, env }) => {
  const r = await runCli(['vapi', 'ensure-recording'], env);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /total 8, enabled 6, unchanged 2, would enable 0, failed 0/);
  assert.is(enabledCount(api), 8);
  // other artifactPlan fields survive
  const off = [...api.assistants.values()].find((a) => (a.artifactPlan as Record<string, unknown>)?.recordingFormat === 'wav;l16');
  assert.ok(off);
  const again = await runCli(['vapi', 'ensure-recording'], env);
  assert.is(again.code, 0);
  assert.match(again.stdout, /total 8, enabled 0, unchanged 8/);
});

test('exit 1 when an update fails', async ({ api, env }) => {
  api.failNext(1, 400, { method: 'PATCH' });
  const r = await runCli(['vapi', 'ensure-recording'], env);
  assert.is(r.code, 1);
  assert.match(r.stdout, /failed 1/);
  assert.is(enabledCount(api), 7);
});

test('exit 1 when the listing is incomplete', async ({ api, env }) => {
  api.failNext(Infinity, 404, { method: 'GET', path: '/assistant' });
  const r = await runCli(['vapi', 'ensure-recording', '--dry-run'], env);
  assert.is(r.code, 1);
  assert.match(r.stdout, /listing stopped early \(not_found/);
});

test.run();

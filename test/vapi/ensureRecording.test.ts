import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createVapiClient } from '../../src/vapi/restClient.ts';
import { ensureRecordingEnabled, formatEnsureRecordingTable } from '../../src/vapi/ensureRecording.ts';
import { fakeAssistantId, makeFakeAssistants, startFakeVapiApi, withFakeVapiApi, type FakeVapiApi } from '../fakes/vapiApi.ts';

const KEY = 'vapi-private-key-for-tests';
const noSleep = async () => {};

const recordingStates = (fake: FakeVapiApi) => [...fake.assistants.values()].map((a) => a.artifactPlan?.recordingEnabled);

// makeFakeAssistants rotates: 0 → on, 1 → off, 2 → no plan, 3 → plan without the flag
test('dry run changes nothing and reports would-enable for every assistant not already on', async () => {
  await withFakeVapiApi({ apiKey: KEY, assistants: 10 }, async (fake) => {
    const before = structuredClone([...fake.assistants.values()]);
    const client = createVapiClient({ baseUrl: fake.url, apiKey: KEY, sleep: noSleep });
    const result = await ensureRecordingEnabled({ client, dryRun: true });
    assert.is(fake.patchCount, 0);
    assert.not.ok(fake.requests.some((r) => r.method !== 'GET'));
    assert.equal([...fake.assistants.values()], before);
    assert.equal(result.summary, { total: 10, enabled: 0, unchanged: 3, failed: 0, wouldEnable: 7 });
    assert.is(result.complete, true);
    const row = (i: number) => result.rows.find((r) => r.assistantId === fakeAssistantId(i))!;
    assert.equal(row(0), { assistantId: fakeAssistantId(0), name: 'Receptionist 1', before: true, action: 'unchanged' });
    assert.is(row(1).before, false);
    assert.is(row(1).action, 'would-enable');
    assert.is(row(2).before, null);
    assert.is(row(3).before, null);
    assert.match(formatEnsureRecordingTable(result), 'dry run: nothing was changed');
  });
});

test('a run enables recording where it was not on; a second run changes nothing', async () => {
  await withFakeVapiApi({ apiKey: KEY, assistants: 1203 }, async (fake) => {
    const client = createVapiClient({ baseUrl: fake.url, apiKey: KEY, sleep: noSleep });
    const first = await ensureRecordingEnabled({ client, dryRun: false });
    const expectedOn = Math.ceil(1203 / 4);
    assert.equal(first.summary, { total: 1203, enabled: 1203 - expectedOn, unchanged: expectedOn, failed: 0, wouldEnable: 0 });
    assert.is(fake.patchCount, 1203 - expectedOn);
    assert.ok(recordingStates(fake).every((v) => v === true));

    const patchesAfterFirst = fake.patchCount;
    const second = await ensureRecordingEnabled({ client, dryRun: false });
    assert.equal(second.summary, { total: 1203, enabled: 0, unchanged: 1203, failed: 0, wouldEnable: 0 });
    assert.ok(second.rows.every((r) => r.action === 'unchanged' && r.before === true));
    assert.is(fake.patchCount, patchesAfterFirst);
  });
});

test('the PATCH keeps the other artifactPlan fields', async () => {
  const [a] = makeFakeAssistants(1);
  a!.artifactPlan = {
    recordingEnabled: false,
    recordingFormat: 'mp3',
    videoRecordingEnabled: true,
    recordingPath: 's3://harbor-dental-recordings/vapi/',
    transcriptPlan: { enabled: true, assistantName: 'Riley', userName: 'Caller' },
  };
  await withFakeVapiApi({ apiKey: KEY, assistants: [a!] }, async (fake) => {
    const client = createVapiClient({ baseUrl: fake.url, apiKey: KEY, sleep: noSleep });
    const result = await ensureRecordingEnabled({ client, dryRun: false });
    assert.is(result.rows[0]!.action, 'enabled');
    const expected = { ...a!.artifactPlan, recordingEnabled: true };
    assert.equal(fake.requests.find((r) => r.method === 'PATCH')!.body, { artifactPlan: expected });
    assert.equal(fake.assistants.get(a!.id)!.artifactPlan, expected);
    assert.is(fake.assistants.get(a!.id)!.model !== undefined, true, 'fields outside artifactPlan untouched');
  });
});

test('an assistant that keeps failing with 500 is reported as failed while the others are enabled', async () => {
  await withFakeVapiApi({ apiKey: KEY, assistants: 8 }, async (fake) => {
    const broken = fakeAssistantId(5);
    fake.failNext(Infinity, 500, { method: 'PATCH', path: `/assistant/${broken}` });
    const client = createVapiClient({ baseUrl: fake.url, apiKey: KEY, sleep: noSleep, maxRetries: 2 });
    const result = await ensureRecordingEnabled({ client, dryRun: false });
    assert.equal(result.summary, { total: 8, enabled: 5, unchanged: 2, failed: 1, wouldEnable: 0 });
    const row = result.rows.find((r) => r.assistantId === broken)!;
    assert.is(row.action, 'failed');
    assert.match(row.error ?? '', /^server_error: .*500/);
    assert.is(fake.requests.filter((r) => r.method === 'PATCH' && r.path === `/assistant/${broken}`).length, 3);
    for (const [id, a] of fake.assistants) assert.is(a.artifactPlan?.recordingEnabled === true, id !== broken, id);

    const table = formatEnsureRecordingTable(result);
    const lines = table.split('\n');
    assert.match(lines[0]!, /^ASSISTANT ID\s+NAME\s+BEFORE\s+ACTION\s+ERROR$/);
    const actionCol = lines[0]!.indexOf('ACTION');
    for (const line of lines.slice(2, 10)) assert.match(line.slice(actionCol), /^(enabled|unchanged|failed)\b/);
    assert.match(table, 'total 8, enabled 5, unchanged 2, would enable 0, failed 1');
  });
});

test('a wrong API key leaves the result incomplete with listError unauthorized', async () => {
  await withFakeVapiApi({ apiKey: KEY, assistants: 3 }, async (fake) => {
    const client = createVapiClient({ baseUrl: fake.url, apiKey: 'wrong', sleep: noSleep });
    const result = await ensureRecordingEnabled({ client, dryRun: false });
    assert.is(result.complete, false);
    assert.is(result.listError?.code, 'unauthorized');
    assert.is(result.rows.length, 0);
    assert.is(fake.patchCount, 0);
    assert.match(formatEnsureRecordingTable(result), 'listing stopped early (unauthorized');
  });
});

test('names with line breaks do not break the table', async () => {
  const [a] = makeFakeAssistants(1);
  a!.name = 'Front desk\nnight shift';
  await withFakeVapiApi({ apiKey: KEY, assistants: [a!] }, async (fake) => {
    const client = createVapiClient({ baseUrl: fake.url, apiKey: KEY });
    const result = await ensureRecordingEnabled({ client, dryRun: true });
    const table = formatEnsureRecordingTable(result);
    assert.is(table.split('\n').length, 5);
    assert.match(table, 'Front desk night shift');
  });
});

test.run();

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { eventually } from '../support/eventually.ts';
import type { Browser, Page } from 'playwright-core';
import type { Role } from '../../src/auth/roles.ts';
import { pgliteBackend } from '../support/databases.ts';
import { startApi, type ApiHarness } from '../api/support.ts';
import { launchBrowser, openPage, rowSelector, waitUntil, type PageLog } from './support.ts';

/**
 * What users of the dashboard see of personal data, in headless Chromium against a real callrec (PGlite, real
 * JWT secret, sign-in by pasting a token): the caller's number per role, the assistant, the erased / expired /
 * held badges arriving live over SSE, an admin's Erase / Hold / Release with a reason, and an auditor reading
 * who erased or held a call, when and why.
 */

const test = suite('dashboard: erasure, holds, expiry and masked numbers in a browser');
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const ORG = 'clinic';
const NUMBER_A = '+15551234567';
const NUMBER_B = '+447911123456';

let h: ApiHarness | undefined;
let browser: Browser | undefined;
const pages: Partial<Record<'member' | 'auditor' | 'admin', { page: Page; log: PageLog; dialogs: string[] }>> = {};
let callA = ''; // a recording in storage; the admin erases it through the page
let callB = ''; // held through the log, then released and held again through the page
let callC = ''; // its recording and transcript expire through the log

async function signIn(role: 'member' | 'auditor' | 'admin', user: string) {
  const { page, log } = await openPage(browser!);
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.type());
    void d.dismiss();
  });
  await page.goto(`${h!.service.url}/`);
  await page.waitForSelector('#token-form');
  await page.fill('#token', await h!.token(ORG, user, role as Role));
  await page.click('#token-form button[type=submit]');
  await page.waitForSelector('#dashboard:not([hidden])');
  await page.waitForSelector('#live[data-state="live"]');
  await waitUntil('the seeded calls', async () => (await page.$$('#calls-body tr')).length === 3);
  await page.evaluate(() => ((window as any).__sameDocument = true));
  pages[role] = { page, log, dialogs };
  return pages[role]!;
}

const cell = (page: Page, callId: string, cls: string) => page.textContent(`${rowSelector(callId)} .${cls}`);
const flags = (page: Page, callId: string) => page.$$eval(`${rowSelector(callId)} .flags .flag`, (els) => els.map((e) => (e as HTMLElement).dataset.flag));
const listFetches = (log: PageLog) => log.requests.filter((r) => r.startsWith('GET /api/calls?') || r === 'GET /api/calls').length;
/** The facts of a section of the open call, as { term: value }. */
const factsOf = (page: Page, section: string) =>
  page.$$eval(`#detail ${section} .fact`, (els) => Object.fromEntries(els.map((e) => [e.querySelector('dt')!.textContent, e.querySelector('dd')!.textContent])));

async function openCall(page: Page, callId: string) {
  await page.click(`${rowSelector(callId)} td.reason`);
  await page.waitForSelector(`#detail article[data-call-id="${callId}"]`);
}

test.before(async () => {
  h = await startApi(pgliteBackend);
  callA = await h.endCall(ORG, { customerNumber: NUMBER_A, assistantId: 'asst-desk-1', endedAt: new Date(Date.now() - 3 * 60_000).toISOString(), transcript: 'AI: Harbor Dental.\nUser: This is Jane Roe, I need a crown.', summary: 'Jane Roe booked a crown.' });
  await h.uploadRecording(callA, ORG);
  callB = await h.endCall(ORG, { customerNumber: NUMBER_B, assistantId: 'asst-desk-2', endedAt: new Date(Date.now() - 2 * 60_000).toISOString(), summary: 'Billing dispute about a filling.' });
  callC = await h.endCall(ORG, { customerNumber: '+15550001111', assistantId: 'asst-desk-1', endedAt: new Date(Date.now() - 60_000).toISOString(), transcript: 'User: An old call.', summary: 'An old call.' });
  await h.uploadRecording(callC, ORG);
  await h.endCall('other-org', { customerNumber: NUMBER_A });
  await h.settle();
  browser = await launchBrowser();
});

test.after(async () => {
  try {
    await browser?.close();
  } finally {
    await h?.close();
  }
});

test('the list shows the caller masked for a member, in full for an auditor and an admin, and the assistant', async () => {
  const member = await signIn('member', 'mia');
  const auditor = await signIn('auditor', 'aude');
  const admin = await signIn('admin', 'boss');
  assert.is(await cell(member.page, callA, 'caller'), '+1 ••• ••• 4567');
  assert.is(await cell(member.page, callB, 'caller'), '+44 ••• ••• 3456');
  for (const { page } of [auditor, admin]) {
    assert.is(await cell(page, callA, 'caller'), NUMBER_A);
    assert.is(await cell(page, callB, 'caller'), NUMBER_B);
  }
  assert.is(await cell(member.page, callA, 'assistant'), 'asst-desk-1');
  assert.is(await cell(member.page, callB, 'assistant'), 'asst-desk-2');
  assert.equal(await flags(member.page, callA), [], 'no badges yet');
  // a member's page holds the number nowhere, not even in the detail
  await openCall(member.page, callB);
  assert.is((await factsOf(member.page, 'article > .facts')).Caller, '+44 ••• ••• 3456');
  const text = await member.page.evaluate(() => document.body.innerText);
  assert.not.ok(text.includes('5551234567') || text.includes('7911123456'), 'the full numbers are not on the member page');
  assert.is(await member.page.$('#detail [data-action]'), null, 'members get no erase or hold actions');
  await openCall(auditor.page, callB);
  assert.is((await factsOf(auditor.page, 'article > .facts')).Caller, NUMBER_B);
  await auditor.page.waitForSelector('#detail .audit table.history');
  assert.is(await auditor.page.$('#detail [data-action]'), null, 'auditors get no erase or hold actions');
  await member.page.goto(`${h!.service.url}/#/`);
  await waitUntil('the member list again', async () => (await member.page.$$('#calls-body tr')).length === 3);
  await member.page.evaluate(() => ((window as any).__sameDocument = true));
});

test('held, expired and erased badges appear live over SSE as the events are appended to the log', async () => {
  const { page, log } = pages.member!;
  const before = listFetches(log);
  await h!.append(callB, ORG, [{ type: 'CallHeld', data: { callId: callB, orgId: ORG, reason: 'billing dispute #7' }, actor: 'user:boss' }]);
  await waitUntil('held badge on B', async () => (await flags(page, callB)).includes('held'));
  const storagePath = `${ORG}/2026/05/12/${callC}.wav`; // where the harness's uploadRecording put it
  await h!.append(callC, ORG, [
    { type: 'RecordingExpired', data: { callId: callC, orgId: ORG, storagePath, policyDays: 30 }, actor: 'system:retention' },
    { type: 'TranscriptExpired', data: { callId: callC, orgId: ORG, policyDays: 90 }, actor: 'system:retention' },
  ]);
  await waitUntil('expired badge on C', async () => (await flags(page, callC)).includes('expired') && (await cell(page, callC, 'rec .badge')) === 'expired' && (await cell(page, callC, 'summary-cell')) === '[expired]');
  assert.is(await page.evaluate(() => (window as any).__sameDocument), true, 'no reload');
  assert.is(listFetches(log), before, 'the list was not fetched again: the events changed the rows');
  // an expired recording: no player, a sentence that says why; the transcript reads [expired]
  await openCall(page, callC);
  await page.waitForSelector('#detail .gone[data-gone="expired"]');
  assert.match((await page.textContent('#detail .gone')) ?? '', 'retention period');
  assert.is(await page.$('#detail audio'), null, 'no player for an expired recording');
  assert.is(await page.textContent('#detail .transcript .redacted'), '[expired]');
  assert.ok(Object.keys(await factsOf(page, '.privacy')).includes('Recording expired'));
  assert.equal(pages.member!.dialogs, []);
});

test('an admin erases a call with a reason (a form, not a prompt): badge erased, [erased] texts, no player; the member page follows live', async () => {
  const { page, log, dialogs } = pages.admin!;
  await openCall(page, callA);
  await page.waitForSelector('#detail button[data-action="erase"]');
  assert.ok(await page.$('#detail button[data-action="hold"]'));
  assert.is(await page.$('#detail button[data-action="release"]'), null);
  await page.click('#detail button[data-action="erase"]');
  await page.waitForSelector('#detail form.privacy-form[data-action="erase"] textarea[name="reason"]');
  // a blank reason is refused on the page; nothing is sent
  await page.fill('#detail form.privacy-form textarea', '   ');
  await page.click('#detail form.privacy-form button[type="submit"]');
  await page.waitForSelector('#detail form.privacy-form .error:not([hidden])');
  assert.is(await page.textContent('#detail form.privacy-form .error'), 'Give a reason.');
  assert.not.ok(log.requests.some((r) => r.startsWith('DELETE ')), 'no request for a blank reason');
  await page.fill('#detail form.privacy-form textarea', 'Caller asked to be forgotten (ticket 42)');
  await page.click('#detail form.privacy-form button[type="submit"]');
  await page.waitForFunction(() => document.querySelector('#detail .detail-badge .badge')?.textContent === 'erased', undefined, { timeout: 10_000 });
  // (the page may show the badge from the SSE event before the browser reports the DELETE's response)
  await eventually("the DELETE answered 200 or 202", () => log.responses.some((r) => r.method === 'DELETE' && r.path === `/api/calls/${callA}` && (r.status === 200 || r.status === 202)), { timeoutMs: 10_000 });
  assert.is(await page.$('#detail .flag[data-flag="erased"]'), null, 'the header says erased once (the recording badge)');
  assert.is(await page.textContent('#detail .summary .redacted'), '[erased]');
  assert.is(await page.textContent('#detail .transcript .redacted'), '[erased]');
  assert.is((await factsOf(page, 'article > .facts')).Caller, '[erased]');
  await page.waitForSelector('#detail .gone[data-gone="erased"]');
  assert.match((await page.textContent('#detail .gone')) ?? '', 'erased');
  assert.is(await page.$('#detail audio'), null, 'no player for an erased recording');
  const facts = await factsOf(page, '.privacy');
  assert.is(facts['Erased by'], 'user:boss');
  assert.is(facts['Erasure reason'], 'Caller asked to be forgotten (ticket 42)');
  assert.is(await page.$('#detail [data-action]'), null, 'nothing more to do with an erased call');
  // the list row, on the admin's page and (live, over SSE) on the member's
  for (const p of [page, pages.member!.page]) {
    await waitUntil('row A erased', async () => (await flags(p, callA)).includes('erased') && (await cell(p, callA, 'caller')) === '[erased]' && (await cell(p, callA, 'summary-cell')) === '[erased]');
    assert.is(await cell(p, callA, 'rec .badge'), 'erased');
  }
  assert.is(await pages.member!.page.evaluate(() => (window as any).__sameDocument), true, 'the member page did not reload');
  assert.not.ok((await page.evaluate(() => document.body.innerText)).includes('Jane Roe'));
  assert.equal(dialogs, [], 'no window.prompt or confirm');
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'privacy-admin-erased.png') });
});

test('an admin releases and sets a hold with a reason; a held call cannot be erased from the page', async () => {
  const { page, log, dialogs } = pages.admin!;
  await openCall(page, callB);
  await page.waitForSelector('#detail button[data-action="release"]');
  assert.is(await page.$eval('#detail button[data-action="erase"]', (b) => (b as HTMLButtonElement).disabled), true, 'erase is disabled while held');
  assert.is(await page.$('#detail button[data-action="hold"]'), null);
  // a hold or a release redraws the facts but leaves the recording (and a playing player) alone
  await page.$eval('#detail .recording-box', (el) => ((el as HTMLElement).dataset.marker = 'kept'));
  await page.click('#detail button[data-action="release"]');
  await page.fill('#detail form.privacy-form[data-action="release"] textarea', 'dispute settled');
  await page.click('#detail form.privacy-form button[type="submit"]');
  await page.waitForSelector('#detail button[data-action="hold"]', { timeout: 10_000 });
  assert.is(await page.$('#detail .flag[data-flag="held"]'), null);
  await waitUntil('held badge gone from row B', async () => !(await flags(page, callB)).includes('held'));
  // cancel closes the form and sends nothing
  const writes = log.requests.filter((r) => !r.startsWith('GET ')).length;
  await page.click('#detail button[data-action="hold"]');
  await page.click('#detail form.privacy-form button.secondary');
  assert.is(await page.$('#detail form.privacy-form'), null);
  assert.is(log.requests.filter((r) => !r.startsWith('GET ')).length, writes);
  await page.click('#detail button[data-action="hold"]');
  await page.fill('#detail form.privacy-form[data-action="hold"] textarea', 'new complaint, keep everything');
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'privacy-admin-hold-form.png') });
  await page.click('#detail form.privacy-form button[type="submit"]');
  await page.waitForSelector('#detail .flag[data-flag="held"]', { timeout: 10_000 });
  const facts = await factsOf(page, '.privacy');
  assert.is(facts['Held by'], 'user:boss');
  assert.is(facts['Hold reason'], 'new complaint, keep everything');
  assert.ok(log.requests.includes(`DELETE /api/calls/${callB}/hold`) && log.requests.includes(`POST /api/calls/${callB}/hold`));
  assert.is(await page.$eval('#detail .recording-box', (el) => (el as HTMLElement).dataset.marker), 'kept', 'the recording was not reloaded');
  await page.waitForSelector('#detail table.history tr[data-type="CallReleased"]');
  await waitUntil('held badge on row B (member, live)', async () => (await flags(pages.member!.page, callB)).includes('held'));
  assert.equal(dialogs, []);
});

test('an auditor sees who erased or held the call, when and why: in the call and in its history', async () => {
  const { page } = pages.auditor!;
  await waitUntil('row A erased on the auditor page', async () => (await flags(page, callA)).includes('erased'));
  await openCall(page, callA);
  await page.waitForSelector('#detail .privacy .fact');
  const facts = await factsOf(page, '.privacy');
  assert.is(facts['Erased by'], 'user:boss');
  assert.is(facts['Erasure reason'], 'Caller asked to be forgotten (ticket 42)');
  assert.ok(facts.Erased && facts.Erased !== '—', `erased at ${facts.Erased}`);
  await page.waitForSelector('#detail table.history tr[data-type="CallErased"]');
  const erasedRow = await page.$eval('#detail table.history tr[data-type="CallErased"]', (tr) => Array.from(tr.querySelectorAll('td'), (td) => td.querySelector('.history-reason')?.textContent ?? td.textContent));
  assert.is(erasedRow[3], 'user:boss', 'who');
  assert.ok(erasedRow[1] && erasedRow[1] !== '—', 'when');
  assert.is(erasedRow[4], 'Reason: Caller asked to be forgotten (ticket 42)', 'why');
  assert.is(await page.$('#detail [data-action]'), null);

  await openCall(page, callB);
  await page.waitForSelector('#detail table.history tr[data-type="CallReleased"]');
  const holds = await page.$$eval('#detail table.history tr.privacy-event', (trs) =>
    trs.map((tr) => [(tr as HTMLElement).dataset.type, tr.querySelectorAll('td')[3]!.textContent, tr.querySelector('.history-reason')!.textContent]),
  );
  assert.equal(holds, [
    ['CallHeld', 'user:boss', 'Reason: billing dispute #7'],
    ['CallReleased', 'user:boss', 'Reason: dispute settled'],
    ['CallHeld', 'user:boss', 'Reason: new complaint, keep everything'],
  ]);
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'privacy-auditor-history.png'), fullPage: true });
  const held = await factsOf(page, '.privacy');
  assert.is(held['Held by'], 'user:boss');
  assert.is(held['Hold reason'], 'new complaint, keep everything');
  for (const p of Object.values(pages)) assert.equal(p!.log.pageErrors, []);
});

test.run();

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { signToken } from '../../src/auth/tokens.ts';
import { setOrgMapping } from '../../src/commands/orgs.ts';
import { DEV_JWT_SECRET } from '../../src/config.ts';
import { startRecordingServer, type RecordingServer } from '../fakes/recordingServer.ts';
import { pgliteBackend } from '../support/databases.ts';
import { startTestService, type TestService } from '../support/service.ts';
import { devSignIn, endOfCallReport, launchBrowser, openPage, rowSelector, waitUntil, type PageLog } from './support.ts';

/**
 * The dashboard in headless Chromium against a real callrec (PGlite) whose real recording pipeline downloads
 * WAVs from a local recording server. Signed URLs live 10 s here (RECORDING_URL_EXPIRY_SECONDS=10), so the
 * page renews them after 5 s (the 5-minute margin is capped at half the URL's lifetime).
 */

const test = suite('dashboard in a browser');
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const URL_LIFETIME = 10;

let rec: RecordingServer | undefined;
let service: TestService | undefined;
let browser: Browser | undefined;
let dataDir = '';

// pages that live across tests
let member: { page: Page; log: PageLog } | undefined;
let readyCall = '';
let firstUrl = '';

const post = async (body: unknown) => {
  const res = await service!.post('/webhooks/vapi', body);
  assert.is(res.status, 200, `webhook answered ${res.status}`);
};
const badgeText = (page: Page, callId: string) => page.textContent(`${rowSelector(callId)} .badge`);
const audioState = (page: Page) =>
  page.$eval('#detail audio', (el) => {
    const a = el as HTMLAudioElement;
    return {
      src: a.currentSrc,
      paused: a.paused,
      time: a.currentTime,
      duration: a.duration,
      error: a.error ? a.error.code : null,
      refreshes: Number(a.dataset.refreshes ?? 0),
      swaps: Number(a.dataset.swaps ?? 0),
      pendingSwap: a.dataset.pendingSwap === 'true',
      expiresAt: a.dataset.urlExpiresAt ?? '',
    };
  });

test.before(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'callrec-dashboard-'));
  rec = await startRecordingServer();
  service = await startTestService(pgliteBackend, {
    DATA_DIR: dataDir,
    RECORDING_ALLOWED_HOSTS: '127.0.0.1',
    RECORDING_ALLOWED_ADDRESSES: '127.0.0.1',
    RECORDING_URL_EXPIRY_SECONDS: String(URL_LIFETIME),
    UPLOAD_RETRY_DELAYS_MIN: '0.05',
    UPLOAD_RETRY_POLL_SECONDS: '1',
    SSE_MAX_REPLAY_EVENTS: '20',
  }, { recordingPipeline: true });
  assert.ok(service.config.devAuth, 'no AUTH_JWT_SECRET: development sign-in is on');
  browser = await launchBrowser();
  // a few earlier calls, so the list is not empty
  const now = Date.now();
  const earlier = [
    { minutes: 95, seconds: 6, reason: 'customer-ended-call', summary: 'Booked a cleaning for Friday at 9 AM.', transcript: 'AI: Harbor Dental, this is Riley.\nUser: I need a cleaning this week.\nAI: Friday at 9 works. See you then!' },
    { minutes: 52, seconds: 4, reason: 'assistant-ended-call', summary: 'Asked about parking; told about the free lot behind the clinic.', transcript: 'User: Is there parking?\nAI: Yes, a free lot right behind the clinic.' },
  ];
  for (const [i, c] of earlier.entries()) {
    const { body } = endOfCallReport({
      recordingUrl: `${rec.url}/rec/seed-${i}.wav?seconds=${c.seconds}`,
      endedAt: new Date(now - c.minutes * 60_000),
      durationSeconds: c.seconds,
      endedReason: c.reason,
      summary: c.summary,
      transcript: c.transcript,
    });
    await post(body);
  }
  const { body } = endOfCallReport({
    recordingUrl: null,
    endedAt: new Date(now - 30 * 60_000),
    durationSeconds: 41,
    endedReason: 'customer-busy',
    summary: 'Caller asked for opening hours; no recording was made.',
    transcript: 'User: When are you open on Saturdays?\nAI: From 9 to 1.',
  });
  await post(body);
});

test.after(async () => {
  try {
    await browser?.close();
  } finally {
    try {
      await service?.close();
    } finally {
      await rec?.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }
});

test('GET / is the page: strict CSP, scripts from files only; development sign-in shows the calls and the metrics', async () => {
  const res = await fetch(`${service!.url}/`);
  assert.is(res.status, 200);
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, "script-src 'self'");
  assert.not.match(csp, 'unsafe-inline');
  assert.not.match(csp, 'unsafe-eval');

  const { page, log } = await openPage(browser!);
  member = { page, log };
  await devSignIn(page, service!.url, { org: 'default', user: 'alice', role: 'member' });
  await page.waitForSelector('#calls-body tr');
  await waitUntil('the seeded calls', async () => (await page.$$('#calls-body tr')).length === 3);
  // newest first
  const reasons = await page.$$eval('#calls-body tr .reason', (tds) => tds.map((td) => td.textContent));
  assert.equal(reasons, ['customer busy', 'assistant ended call', 'customer ended call']);
  assert.is(await page.textContent('#who-text'), 'alice · default · member');
  await page.waitForSelector('#metrics .metric[data-metric="upload_success_rate"]');
  assert.ok((await page.$$('#metrics .metric')).length >= 5);
  // calls recovered by reconciliation (missed webhooks): a card and a total
  await page.waitForSelector('#metrics .metric[data-metric="calls_recovered"]');
  assert.match((await page.textContent('#metrics .totals')) ?? '', 'Recovered');
  assert.equal(log.pageErrors, []);
});

test("a new call's badge turns ready without a reload when recording_ready arrives", async () => {
  const { page, log } = member!;
  await page.evaluate(() => ((window as any).__sameDocument = true));
  const listRequests = () => log.requests.filter((r) => r.startsWith('GET /api/calls?')).length;
  const before = listRequests();
  // the first download fails (500): the pipeline retries 3 s later, so the page sees "retrying" first
  const { body, callId } = endOfCallReport({
    recordingUrl: `${rec!.url}/rec/live.wav?seconds=30`,
    durationSeconds: 30,
    summary: 'Rescheduled a cleaning to Wednesday at 2:30 PM.',
  });
  rec!.failNext('/rec/live.wav', 1, 500);
  await post(body);
  await page.waitForSelector(rowSelector(callId), { timeout: 10_000 });
  const early = await badgeText(page, callId);
  assert.ok(early !== 'ready', `the badge started as ${early}`);
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === 'ready', `${rowSelector(callId)} .badge`, { timeout: 20_000 });
  assert.is(await page.evaluate(() => (window as any).__sameDocument), true, 'no reload');
  assert.is(listRequests(), before, 'the list was not fetched again: the live event changed the badge');
  assert.is(await page.textContent(`${rowSelector(callId)} td:first-child`).then((t) => Boolean(t?.trim())), true);
  // the new call is the first row (newest first)
  assert.is(await page.$eval('#calls-body tr', (tr) => (tr as HTMLElement).dataset.callId), callId);
  readyCall = callId;
});

test("the call's detail: audio loads (duration > 0), duration, size, transcript and summary", async () => {
  const { page } = member!;
  await page.click(`${rowSelector(readyCall)} td.reason`);
  await page.waitForSelector(`#detail article[data-call-id="${readyCall}"]`);
  await page.waitForFunction(() => {
    const a = document.querySelector('#detail audio') as HTMLAudioElement | null;
    return a !== null && a.duration > 0;
  }, undefined, { timeout: 10_000 });
  const s = await audioState(page);
  assert.ok(Math.abs(s.duration - 30) < 0.1, `duration ${s.duration}`);
  assert.match(s.src, `${service!.url}/recordings/`);
  firstUrl = s.src;
  const facts = await page.$$eval('#detail .recording .fact', (els) => Object.fromEntries(els.map((e) => [e.querySelector('dt')!.textContent, e.querySelector('dd')!.textContent])));
  assert.is(facts.Length, '0:30');
  assert.is(facts.Size, '469 KB'); // 44 + 30 s × 8000 × 2 bytes
  assert.is(facts.Format, 'wav');
  assert.is(await page.textContent('#detail .summary-text'), 'Rescheduled a cleaning to Wednesday at 2:30 PM.');
  const turns = await page.$$eval('#detail .turn', (els) => els.map((e) => [e.querySelector('.speaker')?.textContent, e.querySelector('.said')?.textContent]));
  assert.ok(turns.length >= 4, `${turns.length} turns`);
  assert.equal(turns[0], ['AI', 'Thank you for calling Harbor Dental, this is Riley. How can I help you today?']);
  assert.is(await page.$('#detail .audit'), null, 'members see no audit history');
  assert.is(await page.getAttribute(`${rowSelector(readyCall)}`, 'class'), 'selected');
});

test('the signed URL is renewed before it expires; playback keeps going; the fresh URL is swapped in at the next seek and while paused', async () => {
  const { page, log } = member!;
  await page.evaluate(() => {
    const a = document.querySelector('#detail audio') as HTMLAudioElement;
    (window as any).__audioErrors = 0;
    a.addEventListener('error', () => ((window as any).__audioErrors += 1));
    return a.play();
  });
  const t0 = await audioState(page);
  // renewed after half the lifetime (5 s), while playing: the swap waits, playback is not touched
  const renewed = await waitUntil('the first renewal', async () => {
    const s = await audioState(page);
    return s.refreshes >= 1 ? s : undefined;
  }, 9000);
  assert.is(renewed.pendingSwap, true);
  assert.is(renewed.paused, false);
  assert.is(renewed.src, firstUrl, 'the playing source was not interrupted');
  assert.ok(log.responses.some((r) => r.method === 'POST' && r.path.endsWith(`/api/calls/${readyCall}/recording/refresh`) && r.status === 200));
  assert.ok(renewed.time > t0.time, 'playing');

  // the first URL really expires …
  await waitUntil('the first URL to expire', async () => (await fetch(firstUrl)).status === 403, 12_000, 250);
  const afterExpiry = await audioState(page);
  await page.waitForTimeout(700);
  const later = await audioState(page);
  // … and the recording keeps playing
  assert.is(later.paused, false);
  assert.ok(later.time > afterExpiry.time + 0.3, `time ${afterExpiry.time} → ${later.time}`);
  assert.is(later.src, firstUrl);

  // a seek is the moment to swap: a new request is made anyway
  await page.evaluate(() => ((document.querySelector('#detail audio') as HTMLAudioElement).currentTime = 3));
  const swapped = await waitUntil('playing from the fresh URL after the seek', async () => {
    const s = await audioState(page);
    return s.src !== firstUrl && !s.paused && s.time > 3.3 && s.time < 8 ? s : undefined;
  }, 8000);
  assert.is(swapped.pendingSwap, false);
  assert.is(swapped.error, null);
  assert.match(swapped.src, `${service!.url}/recordings/`);

  // paused: the next renewal is swapped in at once, the position is kept
  await page.evaluate(() => (document.querySelector('#detail audio') as HTMLAudioElement).pause());
  const paused = await audioState(page);
  const next = await waitUntil('a renewal while paused', async () => {
    const s = await audioState(page);
    // The new source's duration is known a moment before its loadedmetadata handler restores the position: wait for
    // the swap to finish (a position never restored times out here).
    return s.refreshes > paused.refreshes && s.src !== paused.src && s.duration > 0 && Math.abs(s.time - paused.time) < 0.25 ? s : undefined;
  }, 9000);
  assert.is(next.paused, true);
  assert.is(next.pendingSwap, false);
  assert.ok(Math.abs(next.time - paused.time) < 0.25, `position ${paused.time} → ${next.time}`);
  assert.is(await page.evaluate(() => (window as any).__audioErrors), 0, 'no media error at any point');
  const refused = log.responses.filter((r) => r.path.startsWith('/recordings/') && r.status >= 400);
  assert.equal(refused, [], 'the page never requested an expired URL');
});

test('a call without audio shows its transcript and the reason; markup in call data renders as text', async () => {
  const { page } = member!;
  const xss = '<img src=x onerror="window.__xss=1">';
  const { body, callId } = endOfCallReport({
    recordingUrl: null,
    transcript: `User: hello ${xss}\nAI: <script>window.__xss=2</script> Sorry, we are closed.`,
    summary: '<b>not bold</b> <img src=y onerror="window.__xss=3">',
    endedReason: 'customer-busy',
  });
  await post(body);
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === 'transcript only', `${rowSelector(callId)} .badge`, { timeout: 15_000 });
  await page.click(`${rowSelector(callId)} td.reason`);
  await page.waitForSelector('#detail .fallback');
  assert.match(await page.textContent('#detail .fallback-title') ?? '', 'transcript only');
  assert.is(await page.textContent('#detail .reason-code'), 'no_recording_url');
  assert.match(await page.textContent('#detail .fallback-reason') ?? '', 'Vapi sent no recording');
  assert.is(await page.$('#detail audio'), null);
  const said = await page.$$eval('#detail .turn .said', (els) => els.map((e) => e.textContent));
  assert.equal(said, [`hello ${xss}`, '<script>window.__xss=2</script> Sorry, we are closed.']);
  assert.is(await page.textContent('#detail .summary-text'), '<b>not bold</b> <img src=y onerror="window.__xss=3">');
  assert.is(await page.textContent(`${rowSelector(callId)} .summary-cell`), '<b>not bold</b> <img src=y onerror="window.__xss=3">');
  assert.is(await page.$$eval('img, script:not([src]), b', (els) => els.length), 0, 'no element was made from call data');
  await page.waitForTimeout(300);
  assert.is(await page.evaluate(() => (window as any).__xss), undefined);

  // search finds it by its transcript
  await page.fill('#filters input[name=q]', 'closed');
  await page.click('#filters button[type=submit]');
  await waitUntil('search results', async () => {
    const ids = await page.$$eval('#calls-body tr', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.callId));
    return ids.length === 1 && ids[0] === callId;
  });
  // and a filter by recording state
  await page.click('#filters button[type=reset]');
  await page.selectOption('#filters select[name=recording_status]', 'uploaded');
  await waitUntil('ready calls only', async () => {
    const states = await page.$$eval('#calls-body tr', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.recordingStatus));
    return states.length === 3 && states.every((s) => s === 'uploaded');
  });
  await page.selectOption('#filters select[name=recording_status]', '');
  await waitUntil('all calls again', async () => (await page.$$('#calls-body tr')).length === 5);
});

test("another org's call is not visible: not listed, not pushed live, not openable", async () => {
  await setOrgMapping(service!.database.db, 'assistant', 'asst-acme', 'acme');
  service!.orgResolver.invalidate();
  const acme = await openPage(browser!);
  try {
    // the acme user pastes a token (signed with the development secret, like `callrec token` would)
    const token = await signToken({ secret: DEV_JWT_SECRET, orgId: 'acme', userId: 'bob', role: 'member' });
    await acme.page.goto(`${service!.url}/`);
    await acme.page.fill('#token', token);
    await acme.page.click('#token-form button[type=submit]');
    await acme.page.waitForSelector('#live[data-state="live"]');
    await acme.page.waitForSelector('#calls-empty:not([hidden])');

    const { body, callId } = endOfCallReport({ recordingUrl: null, assistantId: 'asst-acme', transcript: 'User: acme secret plans', summary: 'Acme only.' });
    await post(body);
    await acme.page.waitForSelector(rowSelector(callId), { timeout: 10_000 });
    assert.is((await acme.page.$$('#calls-body tr')).length, 1, 'acme sees only its own call');

    const { page } = member!;
    await page.waitForTimeout(500);
    assert.is(await page.$(rowSelector(callId)), null, 'not pushed to the other org');
    await page.click('#filters button[type=submit]');
    await page.waitForTimeout(300);
    await waitUntil('the list reloaded', async () => (await page.$$('#calls-body tr')).length === 5);
    assert.is(await page.$(rowSelector(callId)), null, 'not listed for the other org');
    await page.goto(`${service!.url}/#/calls/${callId}`);
    await page.waitForSelector('#detail .error');
    assert.match(await page.textContent('#detail .error') ?? '', 'does not exist in your organisation');
    assert.is(await page.$('#detail .summary-text'), null);
  } finally {
    await acme.context.close();
  }
});

test('a dropped live connection: the page reconnects with Last-Event-ID and gets what happened meanwhile', async () => {
  const { page, log } = member!;
  await page.evaluate(() => (location.hash = '#/'));
  await page.waitForSelector('#live[data-state="live"]');
  // a second page that has not received any event yet (it resumes after the newest call it listed)
  const quiet = await openPage(browser!);
  try {
    await devSignIn(quiet.page, service!.url, { org: 'default', user: 'carol', role: 'member' });
    await quiet.page.waitForSelector('#calls-body tr');
    const streams = log.eventStreams.length;
    const quietStreams = quiet.log.eventStreams.length;
    // every connection of the server drops (a restart, a proxy timeout …)
    service!.server!.closeAllConnections();
    await page.waitForSelector('#live:not([data-state="live"])', { timeout: 5000 });
    await quiet.page.waitForSelector('#live:not([data-state="live"])', { timeout: 5000 });
    // a call ends while the pages are disconnected (they reconnect after the server's `retry: 3000` / 1 s)
    const { body, callId } = endOfCallReport({ recordingUrl: null, summary: 'Ended while the dashboard was reconnecting.', transcript: 'User: are you there?' });
    await post(body);
    await page.waitForSelector(rowSelector(callId), { timeout: 15_000 });
    await quiet.page.waitForSelector(rowSelector(callId), { timeout: 15_000 });
    await page.waitForSelector('#live[data-state="live"]');
    const resumed = log.eventStreams.slice(streams);
    assert.ok(resumed.length >= 1, 'reconnected');
    assert.match(resumed[0]!.param ?? '', /^\d+$/, 'the page resumed after the last event it saw (lastEventId)');
    // Every stream was opened with a fresh single-use ticket, never with the JWT in the URL.
    const opened = log.requests.filter((r) => r.startsWith('GET /api/events?'));
    assert.ok(opened.length >= 2 && opened.every((r) => /[?&]ticket=[A-Za-z0-9_-]{43}/.test(r) && !r.includes('access_token')), opened.join('\n'));
    assert.is(new Set(opened.map((r) => /ticket=([^&]+)/.exec(r)![1])).size, opened.length, 'a new ticket each time');
    const quietResumed = quiet.log.eventStreams.slice(quietStreams);
    assert.ok(quietResumed.length >= 1, 'the quiet page reconnected');
    assert.match(quietResumed[0]!.param ?? '', /^\d+$/, 'the quiet page resumed after a position it had shown');
    assert.is(await page.$eval('#calls-body tr', (tr) => (tr as HTMLElement).dataset.callId), callId);
  } finally {
    await quiet.context.close();
  }
});

test('too far behind for a replay: the server sends `reset` and the page refetches its list', async () => {
  const { page, log } = member!;
  await page.evaluate(() => (location.hash = '#/'));
  await page.waitForSelector('#live[data-state="live"]');
  // Hold the page's reconnection until more than SSE_MAX_REPLAY_EVENTS (20) events have happened.
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  await page.route('**/api/events/ticket', async (route) => {
    await held;
    await route.continue();
  });
  try {
    const streams = log.eventStreams.length;
    service!.server!.closeAllConnections();
    await page.waitForSelector('#live:not([data-state="live"])', { timeout: 5000 });
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) {
      const { body, callId } = endOfCallReport({ recordingUrl: null, summary: `Missed while away ${i}.`, transcript: 'User: hello?' });
      await post(body);
      ids.push(callId);
    }
    const listsBefore = log.requests.filter((r) => r.startsWith('GET /api/calls?') || r === 'GET /api/calls').length;
    release();
    await page.waitForSelector('#live[data-state="live"]', { timeout: 15_000 });
    await page.waitForSelector(rowSelector(ids[24]!), { timeout: 15_000 });
    const listsAfter = log.requests.filter((r) => r.startsWith('GET /api/calls?') || r === 'GET /api/calls').length;
    assert.ok(listsAfter > listsBefore, 'the list was fetched again after the reset');
    assert.ok(log.eventStreams.length > streams, 'reconnected');
  } finally {
    release();
    await page.unroute('**/api/events/ticket');
  }
});

test("auditors see a call's history and who fetched its recording", async () => {
  const auditor = await openPage(browser!);
  try {
    await devSignIn(auditor.page, service!.url, { org: 'default', user: 'audrey', role: 'auditor' });
    await auditor.page.goto(`${service!.url}/#/calls/${readyCall}`);
    await auditor.page.waitForSelector('#detail table.history tbody tr');
    const types = await auditor.page.$$eval('#detail table.history tbody tr', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.type));
    for (const t of ['CallEnded', 'UploadFailed', 'UploadRetryScheduled', 'RecordingUploaded', 'UrlSigned', 'RecordingAccessed']) assert.ok(types.includes(t), `${t} in ${types.join(', ')}`);
    assert.is(types[0], 'CallEnded');
    await auditor.page.waitForSelector('#detail table.downloads tbody tr');
    const who = await auditor.page.$$eval('#detail table.downloads tbody tr', (trs) => trs.map((tr) => tr.children[1]!.textContent));
    assert.ok(who.includes('alice'), `downloads by ${who.join(', ')}`);
    // signed URLs never reach the page in the history
    const json = await auditor.page.$$eval('#detail .json', (els) => els.map((e) => e.textContent).join('\n'));
    assert.not.match(json, 'sig=');
  } finally {
    await auditor.context.close();
  }
});

test('the session survives a reload (sessionStorage); screenshot of the main page', async () => {
  const { page, log } = member!;
  await page.goto(`${service!.url}/#/calls/${readyCall}`);
  await page.reload();
  await page.waitForSelector('#live[data-state="live"]');
  assert.is(await page.textContent('#who-text'), 'alice · default · member');
  await page.waitForFunction(() => ((document.querySelector('#detail audio') as HTMLAudioElement | null)?.duration ?? 0) > 0, undefined, { timeout: 10_000 });
  await page.waitForSelector('#metrics .metric');
  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: false });
  assert.equal(log.pageErrors, []);
  // CSP violations would show up as console errors
  assert.equal(log.consoleErrors.filter((e) => /Content Security Policy/i.test(e)), []);
});

test.run();

import { randomUUID } from 'node:crypto';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { loadVapiFixture, withRecordingUrl } from '../fixtures/vapi/index.ts';
import { eventually } from '../support/eventually.ts';

/** Debian's chromium, headless, with nothing that reaches outside this machine. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--autoplay-policy=no-user-gesture-required',
  '--mute-audio',
];

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 30_000 });
}

export interface ReportOptions {
  callId?: string;
  /** Recording URL for every recording field; null = a report without any recording. */
  recordingUrl: string | null;
  transcript?: string;
  summary?: string;
  endedAt?: Date;
  durationSeconds?: number;
  endedReason?: string;
  assistantId?: string;
  customerNumber?: string;
}

/** An end-of-call-report body as Vapi posts it, for a new call. */
export function endOfCallReport(o: ReportOptions): { body: any; callId: string } {
  const callId = o.callId ?? randomUUID();
  const body = loadVapiFixture(o.recordingUrl === null ? 'end-of-call-report.no-recording' : 'end-of-call-report.current');
  const m = body.message;
  const ended = o.endedAt ?? new Date();
  const seconds = o.durationSeconds ?? 95;
  m.call.id = callId;
  m.timestamp = ended.getTime();
  m.endedAt = ended.toISOString();
  m.startedAt = new Date(ended.getTime() - seconds * 1000).toISOString();
  m.durationSeconds = seconds;
  m.durationMs = seconds * 1000;
  if (o.endedReason) m.endedReason = o.endedReason;
  if (o.transcript !== undefined) {
    m.artifact ??= {};
    m.artifact.transcript = o.transcript;
  }
  if (o.summary !== undefined) {
    m.analysis ??= {};
    m.analysis.summary = o.summary;
  }
  if (o.customerNumber && m.customer) m.customer.number = o.customerNumber;
  if (o.assistantId) {
    m.call.assistantId = o.assistantId;
    if (m.assistant) m.assistant.id = o.assistantId;
    if (m.phoneNumber) m.phoneNumber.assistantId = o.assistantId;
  }
  return { body: o.recordingUrl === null ? body : withRecordingUrl(body, o.recordingUrl), callId };
}

/** `eventually` as the browser tests call it: a page mid-navigation throws, and that only means "not yet". */
export function waitUntil<T>(label: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  return eventually(label, fn, { timeoutMs, intervalMs: everyMs, retryErrors: true }) as Promise<T>;
}

export interface PageLog {
  consoleErrors: string[];
  pageErrors: string[];
  /** method + path of every request the page made */
  requests: string[];
  /** status + path of every response */
  responses: Array<{ status: number; path: string; method: string }>;
  /** every GET /api/events the page opened, with the Last-Event-ID header and `lastEventId` parameter it sent */
  eventStreams: Array<{ header: string | undefined; param: string | null }>;
}

/** A new page (own context: own sessionStorage) that records errors, requests and responses. */
export async function openPage(browser: Browser, viewport = { width: 1400, height: 900 }): Promise<{ context: BrowserContext; page: Page; log: PageLog }> {
  const context = await browser.newContext({ viewport, locale: 'en-GB', timezoneId: 'UTC' });
  const page = await context.newPage();
  const log: PageLog = { consoleErrors: [], pageErrors: [], requests: [], responses: [], eventStreams: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') log.consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => log.pageErrors.push(e.message));
  page.on('request', (r) => {
    const u = new URL(r.url());
    log.requests.push(`${r.method()} ${u.pathname}${u.search}`);
    if (u.pathname === '/api/events') {
      const entry = { header: undefined as string | undefined, param: u.searchParams.get('lastEventId') };
      log.eventStreams.push(entry);
      // the full headers (Last-Event-ID is set by the browser's network stack)
      void r.allHeaders().then((h) => (entry.header = h['last-event-id']), () => undefined);
    }
  });
  page.on('response', (r) => {
    const u = new URL(r.url());
    log.responses.push({ status: r.status(), path: u.pathname + u.search, method: r.request().method() });
  });
  return { context, page, log };
}

/** Signs in through the page's development form. */
export async function devSignIn(page: Page, baseUrl: string, who: { org: string; user: string; role: 'member' | 'auditor' | 'admin' }) {
  await page.goto(`${baseUrl}/`);
  await page.waitForSelector('#dev-form:not([hidden])');
  await page.fill('#dev-form input[name=org]', who.org);
  await page.fill('#dev-form input[name=user]', who.user);
  await page.selectOption('#dev-form select[name=role]', who.role);
  await page.click('#dev-form button[type=submit]');
  await page.waitForSelector('#dashboard:not([hidden])');
  await page.waitForSelector('#live[data-state="live"]');
}

export const rowSelector = (callId: string) => `#calls-body tr[data-call-id="${callId}"]`;

import { createHash } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { downloadToFile, type DownloadOptions, type DownloadResult, type ResolvedAddress } from '../../src/net/safeDownload.ts';
import { inspectAudioFile } from '../../src/audio/inspect.ts';
import { wavStream } from '../fakes/audioFiles.ts';
import { startRecordingServer, type RecordingServer } from '../fakes/recordingServer.ts';

const test = suite('safeDownload');

let server: RecordingServer;
let root: string;
let n = 0;

test.before(async () => {
  server = await startRecordingServer();
  root = await mkdtemp(join(tmpdir(), 'callrec-dl-'));
});

test.after(async () => {
  await server?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

/** A fresh, empty destination directory per case, so "nothing left behind" can be asserted. */
async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(root, `case${n++}-`));
  return dir;
}

async function download(path: string, extra: Partial<DownloadOptions> = {}): Promise<{ result: DownloadResult; dir: string }> {
  const dir = extra.destDir ?? (await freshDir());
  const result = await downloadToFile({
    url: path.startsWith('http') || !path.startsWith('/') ? path : `${server.url}${path}`,
    allowedHosts: ['127.0.0.1'],
    allowedAddresses: ['127.0.0.1'],
    timeoutMs: 5000,
    maxBytes: 10 * 1024 * 1024,
    ...extra,
    destDir: dir,
  });
  return { result, dir };
}

function expectError(result: DownloadResult, code: string, retryable?: boolean) {
  if (result.ok) throw new assert.Assertion({ message: `expected ${code}, got success`, operator: 'error', expects: code, actual: 'ok' });
  assert.is(result.error.code, code, result.error.message);
  if (retryable !== undefined) assert.is(result.error.retryable, retryable, `retryable for ${code}`);
  return result.error;
}

async function assertEmpty(dir: string) {
  assert.equal(await readdir(dir), [], 'no temp file left behind');
}

async function sha256Of(stream: NodeJS.ReadableStream): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.digest('hex');
}

function requestsTo(prefix: string) {
  return server.requests.filter((r) => r.path.startsWith(prefix));
}

/** Hosts undici was about to connect to while `fn` ran (published before any socket is opened). */
async function watchConnects<T>(fn: () => Promise<T>): Promise<{ value: T; hosts: string[] }> {
  const hosts: string[] = [];
  const onConnect = (message: unknown) => {
    const params = (message as { connectParams: { hostname: string } }).connectParams;
    hosts.push(params.hostname);
  };
  diagnostics.subscribe('undici:client:beforeConnect', onConnect);
  try {
    return { value: await fn(), hosts };
  } finally {
    diagnostics.unsubscribe('undici:client:beforeConnect', onConnect);
  }
}

// ---------------------------------------------------------------- success

test('downloads a WAV: file, size, sha256, content type, final URL', async () => {
  const { result, dir } = await download('/rec/call-1.wav?seconds=3&rate=8000&channels=1');
  assert.ok(result.ok, !result.ok ? result.error.message : '');
  if (!result.ok) return;
  const expected = await sha256Of(wavStream({ seconds: 3, sampleRate: 8000, channels: 1 }));
  assert.is(result.sha256, expected);
  assert.is(result.bytes, 44 + 3 * 8000 * 2);
  assert.is((await stat(result.path)).size, result.bytes);
  assert.is(createHash('sha256').update(await readFile(result.path)).digest('hex'), expected);
  assert.is(result.contentType, 'audio/wav');
  assert.is(result.finalUrl, `${server.url}/rec/call-1.wav?seconds=3&rate=8000&channels=1`);
  assert.ok(result.path.startsWith(dir));
  assert.equal(await readdir(dir), [result.path.slice(dir.length + 1)], 'only the final file, no .part');
  const info = await inspectAudioFile(result.path);
  assert.ok(info.ok && info.format === 'wav' && info.durationSeconds === 3);
});

test('streams a 50 MB recording to disk with the right sha256', async () => {
  const bytes = 50 * 1024 * 1024;
  const { result } = await download(`/big.wav?bytes=${bytes}`, { maxBytes: 64 * 1024 * 1024, timeoutMs: 20_000 });
  assert.ok(result.ok, !result.ok ? result.error.message : '');
  if (!result.ok) return;
  assert.is(result.bytes, bytes);
  assert.is((await stat(result.path)).size, bytes);
  assert.is(result.sha256, await sha256Of(wavStream({ bytes })));
  await rm(result.path);
});

test('chunked response without Content-Length is accepted', async () => {
  const { result } = await download('/rec/chunk.mp3?seconds=2&chunked=1');
  assert.ok(result.ok, !result.ok ? result.error.message : '');
  if (result.ok) assert.is(result.contentType, 'audio/mpeg');
});

test('follows up to maxRedirects redirects (5 by default)', async () => {
  const { result } = await download('/chain?n=4&to=/rec/end.wav?seconds=1');
  assert.ok(result.ok, !result.ok ? result.error.message : '');
  if (result.ok) assert.ok(result.finalUrl.endsWith('/rec/end.wav?seconds=1'));
});

test('allowedAddresses accepts CIDRs', async () => {
  const { result } = await download('/rec/cidr.wav?seconds=1', { allowedAddresses: ['127.0.0.0/8'] });
  assert.ok(result.ok, !result.ok ? result.error.message : '');
});

// ---------------------------------------------------------------- invalid_url

test('invalid_url: garbage, non-http schemes, credentials in the URL', async () => {
  for (const url of ['not a url', 'ftp://127.0.0.1/a.wav', 'file:///etc/passwd', 'data:audio/wav;base64,UklGRg==', `http://user:pw@127.0.0.1:${server.port}/rec/a.wav`]) {
    const { result, dir } = await download(url);
    expectError(result, 'invalid_url', false);
    await assertEmpty(dir);
  }
});

// ---------------------------------------------------------------- host_not_allowed

test('host_not_allowed: the first URL, before any request', async () => {
  const before = server.requests.length;
  const { result } = await download('/rec/a.wav', { allowedHosts: ['storage.vapi.ai', '*.vapi.ai'] });
  expectError(result, 'host_not_allowed', false);
  assert.is(server.requests.length, before, 'nothing was fetched');
});

test('host_not_allowed: a redirect hop to another host is not followed', async () => {
  let resolved = 0;
  const { result, dir } = await download(`/redirect?to=${encodeURIComponent('http://evil.example.net/steal')}`, {
    resolve: async () => {
      resolved++;
      return [{ address: '127.0.0.1', family: 4 }];
    },
  });
  const error = expectError(result, 'host_not_allowed', false);
  assert.match(error.message, /evil\.example\.net/);
  assert.match(error.message, /redirect hop 1/);
  assert.is(resolved, 0, 'the foreign host was not even resolved');
  await assertEmpty(dir);
});

test('wildcard allowedHosts match sub-domains only', async () => {
  const resolve = async (): Promise<ResolvedAddress[]> => [{ address: '127.0.0.1', family: 4 }];
  const ok = await download(`http://a.b.recordings.test:${server.port}/rec/w.wav?seconds=1`, { allowedHosts: ['*.recordings.test'], resolve });
  assert.ok(ok.result.ok, !ok.result.ok ? ok.result.error.message : '');
  const apex = await download(`http://recordings.test:${server.port}/rec/w.wav?seconds=1`, { allowedHosts: ['*.recordings.test'], resolve });
  expectError(apex.result, 'host_not_allowed');
  const lookalike = await download(`http://evilrecordings.test:${server.port}/rec/w.wav?seconds=1`, { allowedHosts: ['*.recordings.test'], resolve });
  expectError(lookalike.result, 'host_not_allowed');
});

// ---------------------------------------------------------------- address_not_allowed (SSRF)

test('address_not_allowed: 127.0.0.1 is refused unless listed in allowedAddresses', async () => {
  const before = server.requests.length;
  const { value, hosts } = await watchConnects(() => download('/rec/a.wav?seconds=1', { allowedAddresses: [] }));
  const error = expectError(value.result, 'address_not_allowed', false);
  assert.match(error.message, /loopback/);
  assert.is(server.requests.length, before, 'the fixture server saw no request');
  assert.equal(hosts, [], 'no connection was attempted');
});

test('address_not_allowed: redirect to 169.254.169.254 (cloud metadata) refused without connecting to it', async () => {
  const metadata = 'http://169.254.169.254/latest/meta-data/iam/security-credentials/';
  const started = Date.now();
  const { value, hosts } = await watchConnects(() =>
    download(`/redirect?to=${encodeURIComponent(metadata)}`, { allowedHosts: ['127.0.0.1', '169.254.169.254'] }),
  );
  const error = expectError(value.result, 'address_not_allowed', false);
  assert.match(error.message, /169\.254\.169\.254/);
  assert.match(error.message, /linkLocal/);
  assert.ok(!hosts.includes('169.254.169.254'), `connect attempts: ${hosts.join(', ')}`);
  assert.ok(hosts.includes('127.0.0.1'), 'the first hop did connect (the watcher works)');
  assert.ok(Date.now() - started < 2000, 'refused at once, no connect timeout');
  await assertEmpty(value.dir);
});

test('address_not_allowed: other literal forms of internal addresses', async () => {
  for (const host of ['[::1]', '[::ffff:127.0.0.1]', '[::ffff:a9fe:a9fe]', '0x7f.0.0.1', '2130706433', '10.1.2.3', '192.168.1.1', '172.16.0.1', '100.64.0.1', '0.0.0.0', '[fd00::1]', '[fe80::1]', '224.0.0.1']) {
    const url = `http://${host}:${server.port}/rec/a.wav`;
    const { value, hosts } = await watchConnects(() => download(url, { allowedHosts: ['*'], allowedAddresses: [] }));
    assert.is(value.result.ok ? 'ok' : value.result.error.code, 'address_not_allowed', host);
    assert.equal(hosts, [], `no connection for ${host}`);
  }
});

test('address_not_allowed: a name that resolves to a private address is refused at connect time', async () => {
  const seen: string[] = [];
  const resolve = async (hostname: string): Promise<ResolvedAddress[]> => {
    seen.push(hostname);
    return hostname === 'internal.recordings.test' ? [{ address: '10.0.0.7', family: 4 }] : [{ address: '127.0.0.1', family: 4 }, { address: '169.254.169.254', family: 4 }];
  };
  const one = await download(`http://internal.recordings.test:${server.port}/rec/a.wav`, { allowedHosts: ['*.recordings.test'], resolve });
  assert.match(expectError(one.result, 'address_not_allowed', false).message, /10\.0\.0\.7/);
  // one allowed and one forbidden record: refused as a whole
  const mixed = await download(`http://mixed.recordings.test:${server.port}/rec/a.wav`, { allowedHosts: ['*.recordings.test'], resolve });
  expectError(mixed.result, 'address_not_allowed', false);
  assert.equal(seen, ['internal.recordings.test', 'mixed.recordings.test']);
});

test('address_not_allowed: DNS rebinding — each connection re-checks what the name resolves to now', async () => {
  let calls = 0;
  const resolve = async (): Promise<ResolvedAddress[]> => (++calls === 1 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '169.254.169.254', family: 4 }]);
  const url = `http://rebind.recordings.test:${server.port}/rec/r.wav?seconds=1`;
  const first = await download(url, { allowedHosts: ['*.recordings.test'], resolve });
  assert.ok(first.result.ok, 'first answer is the allowed address');
  const second = await download(url, { allowedHosts: ['*.recordings.test'], resolve });
  expectError(second.result, 'address_not_allowed');
  assert.is(calls, 2);
});

// ---------------------------------------------------------------- credentials on redirect

test('Authorization is kept on a same-host redirect and dropped on a cross-host redirect', async () => {
  const resolve = async (): Promise<ResolvedAddress[]> => [{ address: '127.0.0.1', family: 4 }];
  const opts = { allowedHosts: ['127.0.0.1', 'cdn.recordings.test'], resolve, headers: { Authorization: 'Bearer vapi-key', Cookie: 'session=1', 'X-Trace': 't1' } };

  const same = await download(`/redirect?to=${encodeURIComponent('/rec/same.wav?seconds=1&auth=vapi-key')}`, opts);
  assert.ok(same.result.ok, !same.result.ok ? same.result.error.message : '');
  assert.is(requestsTo('/rec/same.wav').at(-1)?.headers.authorization, 'Bearer vapi-key');

  const target = `http://cdn.recordings.test:${server.port}/rec/cross.wav?seconds=1`;
  const cross = await download(`/redirect?to=${encodeURIComponent(target)}`, opts);
  assert.ok(cross.result.ok, !cross.result.ok ? cross.result.error.message : '');
  const hop1 = requestsTo('/redirect').at(-1)!;
  const hop2 = requestsTo('/rec/cross.wav').at(-1)!;
  assert.is(hop1.headers.authorization, 'Bearer vapi-key');
  assert.is(hop2.headers.authorization, undefined, 'Authorization not sent to the other host');
  assert.is(hop2.headers.cookie, undefined, 'Cookie not sent to the other host');
  assert.is(hop2.headers['x-trace'], 't1', 'other headers still sent');
  assert.is(hop2.headers.host, `cdn.recordings.test:${server.port}`);
});

// ---------------------------------------------------------------- too_many_redirects

test('too_many_redirects: one more than maxRedirects', async () => {
  const { result, dir } = await download('/chain?n=5&to=/rec/end.wav?seconds=1');
  expectError(result, 'too_many_redirects', false);
  await assertEmpty(dir);
  const none = await download('/redirect?to=/rec/a.wav', { maxRedirects: 0 });
  expectError(none.result, 'too_many_redirects', false);
});

// ---------------------------------------------------------------- too_large

test('too_large: Content-Length over maxBytes is refused before reading the body', async () => {
  const { result, dir } = await download('/big.wav?bytes=104857600', { maxBytes: 1024 * 1024 });
  const error = expectError(result, 'too_large', false);
  assert.match(error.message, /104857600/);
  await assertEmpty(dir);
});

test('too_large: a body without Content-Length is cut as soon as it passes maxBytes', async () => {
  const started = Date.now();
  const { result, dir } = await download('/big.wav?bytes=524288000&chunked=1', { maxBytes: 2 * 1024 * 1024 });
  expectError(result, 'too_large', false);
  assert.ok(Date.now() - started < 3000, 'aborted early, not after 500 MB');
  await assertEmpty(dir);
});

// ---------------------------------------------------------------- http_status

test('http_status: retryable for 5xx, 408 and 429, not for other 4xx; status given', async () => {
  const cases: Array<[number, boolean]> = [[500, true], [502, true], [503, true], [408, true], [429, true], [404, false], [403, false], [401, false], [410, false]];
  for (const [status, retryable] of cases) {
    const { result, dir } = await download(`/rec/a.wav?fail=${status}`);
    const error = expectError(result, 'http_status', retryable);
    assert.is(error.status, status);
    await assertEmpty(dir);
  }
  const missing = await download('/nothing/here.wav');
  assert.is(expectError(missing.result, 'http_status', false).status, 404);
});

// ---------------------------------------------------------------- timeout

test('timeout: a server that never answers', async () => {
  const started = Date.now();
  const { result, dir } = await download('/rec/a.wav?fail=hang', { timeoutMs: 300 });
  expectError(result, 'timeout', true);
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 280 && elapsed < 2000, `elapsed ${elapsed}`);
  await assertEmpty(dir);
});

test('timeout: the deadline covers a slow drip body', async () => {
  const started = Date.now();
  const { result, dir } = await download('/rec/a.wav?seconds=1&fail=drip&dripMs=50', { timeoutMs: 600 });
  expectError(result, 'timeout', true);
  assert.ok(Date.now() - started < 2500);
  await assertEmpty(dir);
});

// ---------------------------------------------------------------- connection_error / truncated

test('connection_error: reset before any response, and a closed port', async () => {
  const reset = await download('/rec/a.wav?fail=reset');
  expectError(reset.result, 'connection_error', true);
  await assertEmpty(reset.dir);

  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const refused = await download(`http://127.0.0.1:${port}/rec/a.wav`);
  assert.match(expectError(refused.result, 'connection_error', true).message, /ECONNREFUSED/);
});

test('truncated: fewer bytes than Content-Length, then the connection drops', async () => {
  const { result, dir } = await download('/rec/cut.wav?seconds=20&fail=truncate');
  expectError(result, 'truncated', true);
  await assertEmpty(dir);
});

// ---------------------------------------------------------------- retry, abort

test('failNext: a recording that fails twice then succeeds, retried by the caller', async () => {
  server.failNext('/rec/flaky', 2, 503);
  const outcomes: string[] = [];
  let last: DownloadResult | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    last = (await download('/rec/flaky.wav?seconds=1')).result;
    outcomes.push(last.ok ? 'ok' : last.error.code);
    if (last.ok || !last.error.retryable) break;
  }
  assert.equal(outcomes, ['http_status', 'http_status', 'ok']);
});

test('aborted: the caller signal stops the download and leaves nothing behind', async () => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 150);
  const { result, dir } = await download('/rec/a.wav?seconds=1&fail=drip&dripMs=20', { signal: controller.signal, timeoutMs: 5000 });
  expectError(result, 'aborted');
  await assertEmpty(dir);
});

test.run();

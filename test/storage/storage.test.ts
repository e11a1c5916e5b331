import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, rename, rm, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Koa from 'koa';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildLocalSignedUrl, createLocalStorage, localSignature, verifyLocalSignature } from '../../src/storage/local.ts';
import { createLocalRecordingHandler, parseRange } from '../../src/storage/localRoute.ts';
import { contentTypeForPath, recordingObjectPath, validateObjectPath } from '../../src/storage/port.ts';
import { createSupabaseStorage, mapSupabaseError } from '../../src/storage/supabase.ts';
import { startFakeSupabaseStorage } from '../fakes/supabaseStorage.ts';
import { type ContractTarget, storageContract } from './contract.ts';

const SECRET = 'local-signing-secret-for-tests-0123456789';
const SERVICE_KEY = 'service-role-key-for-tests';

/** A clock that tests can push forward. */
function movableClock() {
  let offsetMs = 0;
  return { now: () => new Date(Date.now() + offsetMs), advance: (s: number) => void (offsetMs += s * 1000) };
}

async function listen(app: Koa): Promise<{ server: Server; baseUrl: string }> {
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function localSetup(opts: { onRejected?: (reason: 'expired' | 'invalid') => void } = {}) {
  const base = await mkdtemp(join(tmpdir(), 'callrec-local-'));
  const root = join(base, 'recordings');
  const clock = movableClock();
  const app = new Koa();
  app.use(createLocalRecordingHandler({ root, signingSecret: SECRET, clock: clock.now, onRejected: opts.onRejected }));
  app.use((ctx) => {
    ctx.status = 418;
    ctx.body = 'next';
  });
  const { server, baseUrl } = await listen(app);
  const storage = createLocalStorage({ root, publicBaseUrl: baseUrl, signingSecret: SECRET, clock: clock.now });
  return {
    base,
    root,
    clock,
    storage,
    baseUrl,
    async close() {
      await closeServer(server);
      await rm(base, { recursive: true, force: true });
    },
  };
}

storageContract('local', async (): Promise<ContractTarget> => {
  const s = await localSetup();
  return {
    storage: s.storage,
    advanceClock: s.clock.advance,
    async setDown(down) {
      // the volume "goes away": the root path becomes a plain file
      if (down) {
        await rename(s.root, `${s.root}.away`);
        await writeFile(s.root, 'not a directory');
      } else {
        await rm(s.root);
        await rename(`${s.root}.away`, s.root);
      }
    },
    async setObjectTime(path, time) {
      await utimes(join(s.root, ...path.split('/')), time, time);
    },
    rejectedStatus: 403,
    close: s.close,
  };
});

storageContract('supabase (fake)', async (): Promise<ContractTarget> => {
  const clock = movableClock();
  const fake = await startFakeSupabaseStorage({ serviceRoleKey: SERVICE_KEY, bucket: 'recordings', clock: clock.now });
  const storage = createSupabaseStorage({ url: fake.url, serviceRoleKey: SERVICE_KEY, bucket: 'recordings', clock: clock.now, requestTimeoutMs: 5000 });
  return {
    storage,
    advanceClock: clock.advance,
    setDown: (down) => fake.setDown(down),
    setObjectTime: (path, time) => fake.setObjectTime(path, time),
    listRequests: () => fake.requests.filter((r) => r.path.includes('/object/list/')).length,
    // Supabase answers a bad or expired token with HTTP 400 {"statusCode":"400","error":"InvalidJWT"}
    rejectedStatus: 400,
    close: fake.close,
  };
});

// --- pure parts ----------------------------------------------------------------------------------------

const pure = suite('storage: paths, ranges, signatures');

pure('recordingObjectPath is deterministic and uses the UTC date', () => {
  const input = { orgId: 'org_1', endedAt: new Date('2026-01-31T23:30:00-05:00'), callId: 'c4f1e6a0-1b2c-4d5e-8f90-123456789abc', ext: 'WAV' };
  const a = recordingObjectPath(input);
  const b = recordingObjectPath({ ...input });
  assert.ok(a.ok && b.ok);
  assert.is(a.value, 'org_1/2026/02/01/c4f1e6a0-1b2c-4d5e-8f90-123456789abc.wav');
  assert.is(a.value, b.value);
  assert.ok(recordingObjectPath({ ...input, ext: '.mp3' }).ok);
  assert.ok(recordingObjectPath({ ...input, callId: 'call.v2' }).ok);
});

pure('recordingObjectPath refuses bad segments', () => {
  const input = { orgId: 'org', endedAt: new Date('2026-01-01T00:00:00Z'), callId: 'call', ext: 'wav' };
  for (const bad of ['', '..', '.hidden', 'a/b', 'a\\b', 'a..b', 'a b', 'x'.repeat(200), 'ü']) {
    const r1 = recordingObjectPath({ ...input, callId: bad });
    const r2 = recordingObjectPath({ ...input, orgId: bad });
    assert.ok(!r1.ok && r1.error.code === 'invalid_path', `callId ${JSON.stringify(bad)}`);
    assert.ok(!r2.ok && r2.error.code === 'invalid_path', `orgId ${JSON.stringify(bad)}`);
  }
  assert.not.ok(recordingObjectPath({ ...input, ext: 'w/v' }).ok);
  assert.not.ok(recordingObjectPath({ ...input, ext: '' }).ok);
  assert.not.ok(recordingObjectPath({ ...input, endedAt: new Date('nope') }).ok);
});

pure('validateObjectPath', () => {
  for (const good of ['a', 'org/2026/01/01/c.wav', 'a/.b', 'a/b..c']) assert.ok(validateObjectPath(good).ok, good);
  for (const bad of ['', '/a', 'a/', '..', 'a/../b', './a', 'a//b', 'a\\b', 'a\u0000b', 'a\nb', 'x'.repeat(1025)]) {
    assert.not.ok(validateObjectPath(bad).ok, JSON.stringify(bad));
  }
});

pure('parseRange', () => {
  assert.equal(parseRange(undefined, 100), { kind: 'none' });
  assert.equal(parseRange('bytes=0-9', 100), { kind: 'range', start: 0, end: 9 });
  assert.equal(parseRange('bytes=90-', 100), { kind: 'range', start: 90, end: 99 });
  assert.equal(parseRange('bytes=90-500', 100), { kind: 'range', start: 90, end: 99 });
  assert.equal(parseRange('bytes=-10', 100), { kind: 'range', start: 90, end: 99 });
  assert.equal(parseRange('bytes=-500', 100), { kind: 'range', start: 0, end: 99 });
  assert.equal(parseRange('bytes=100-', 100), { kind: 'unsatisfiable' });
  assert.equal(parseRange('bytes=-0', 100), { kind: 'unsatisfiable' });
  assert.equal(parseRange('bytes=0-', 0), { kind: 'unsatisfiable' });
  assert.equal(parseRange('bytes=5-2', 100), { kind: 'none' });
  assert.equal(parseRange('bytes=0-1,5-6', 100), { kind: 'none' });
  assert.equal(parseRange('items=0-1', 100), { kind: 'none' });
});

pure('contentTypeForPath', () => {
  assert.is(contentTypeForPath('o/2026/01/01/c.wav'), 'audio/wav');
  assert.is(contentTypeForPath('c.MP3'), 'audio/mpeg');
  assert.is(contentTypeForPath('c.ogg'), 'audio/ogg');
  assert.is(contentTypeForPath('c.m4a'), 'audio/mp4');
  assert.is(contentTypeForPath('dir.x/c'), 'application/octet-stream');
});

pure('verifyLocalSignature', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const expires = Math.floor(now.getTime() / 1000) + 60;
  const path = 'org/2026/01/01/c.wav';
  const sig = localSignature(SECRET, path, expires);
  const check = (over: Partial<Parameters<typeof verifyLocalSignature>[0]>) =>
    verifyLocalSignature({ signingSecret: SECRET, path, expires: String(expires), sig, now, ...over });
  assert.equal(check({}), { ok: true, expires });
  assert.equal(check({ path: 'org/2026/01/01/d.wav' }), { ok: false, reason: 'invalid' });
  assert.equal(check({ signingSecret: `${SECRET}x` }), { ok: false, reason: 'invalid' });
  assert.equal(check({ expires: String(expires + 3600) }), { ok: false, reason: 'invalid' });
  assert.equal(check({ sig: sig.slice(0, -1) }), { ok: false, reason: 'invalid' });
  assert.equal(check({ sig: `${sig.slice(0, -1)}z` }), { ok: false, reason: 'invalid' });
  assert.equal(check({ sig: sig.toUpperCase() }), { ok: false, reason: 'invalid' }, 'only the canonical lowercase form');
  assert.equal(check({ sig: [sig] }), { ok: false, reason: 'invalid' });
  assert.equal(check({ expires: undefined }), { ok: false, reason: 'invalid' });
  assert.equal(check({ now: new Date((expires + 1) * 1000) }), { ok: false, reason: 'expired' });
  assert.equal(check({ now: new Date(expires * 1000) }), { ok: false, reason: 'expired' });
  // an expired URL whose signature is also wrong reports the signature
  assert.equal(check({ now: new Date((expires + 1) * 1000), sig: '0'.repeat(64) }), { ok: false, reason: 'invalid' });
});

pure('mapSupabaseError', () => {
  const api = (status: number, statusCode: string, message = 'm') => ({ name: 'StorageApiError', status, statusCode, message });
  assert.is(mapSupabaseError(api(400, '404')).code, 'not_found');
  assert.is(mapSupabaseError(api(404, '404')).code, 'not_found');
  assert.is(mapSupabaseError(api(400, 'NoSuchKey')).code, 'not_found');
  assert.is(mapSupabaseError(api(400, '409', 'The resource already exists')).code, 'conflict');
  assert.is(mapSupabaseError(api(400, '403', 'invalid signature')).code, 'unauthorized');
  assert.is(mapSupabaseError(api(401, '401')).code, 'unauthorized');
  assert.is(mapSupabaseError(api(400, 'InvalidKey', 'Invalid key: a b')).code, 'invalid_path');
  assert.is(mapSupabaseError(api(400, '413', 'too big')).code, 'unknown');
  for (const [status, code] of [[503, '503'], [502, '502'], [400, '500'], [429, '429'], [544, 'DatabaseTimeout']] as const) {
    const e = mapSupabaseError(api(status, code));
    assert.is(e.code, 'unavailable', `${status}/${code}`);
    assert.is(e.retryable, true);
  }
  const network = mapSupabaseError({ name: 'StorageUnknownError', message: 'fetch failed', originalError: Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }) });
  assert.is(network.code, 'unavailable');
  assert.is(network.retryable, true);
  assert.match(network.message, 'ECONNREFUSED');
  assert.is(mapSupabaseError(new Error('boom')).code, 'unavailable');
  assert.is(mapSupabaseError(api(400, '404')).retryable, false);
});

pure.run();

// --- local: the URL handler ------------------------------------------------------------------------------

const local = suite('storage: local URL handler');

local('rejections are 403 JSON with the right code, reported to onRejected', async () => {
  const reasons: string[] = [];
  const s = await localSetup({ onRejected: (r) => reasons.push(r) });
  try {
    const dir = await mkdtemp(join(s.base, 'src-'));
    await writeFile(join(dir, 'a.wav'), 'abc');
    const p = 'org/2026/01/01/a.wav';
    assert.ok((await s.storage.put(p, join(dir, 'a.wav'), { contentType: 'audio/wav' })).ok);
    const signed = await s.storage.createSignedUrl(p, 30);
    assert.ok(signed.ok);
    const url = new URL(signed.value.url);
    assert.is(url.origin, s.baseUrl);
    assert.ok(url.pathname === `/recordings/${p}`);

    const longer = new URL(url);
    longer.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 86_400));
    let res = await fetch(longer);
    assert.is(res.status, 403);
    assert.equal(await res.json(), { error: { code: 'signed_url_invalid', message: 'The signed URL is not valid' } });

    const noSig = new URL(url);
    noSig.searchParams.delete('sig');
    res = await fetch(noSig);
    assert.is(res.status, 403);
    assert.is((await res.json()).error.code, 'signed_url_invalid');

    s.clock.advance(31);
    res = await fetch(url);
    assert.is(res.status, 403);
    assert.is(res.headers.get('cache-control'), 'no-store');
    assert.equal(await res.json(), { error: { code: 'signed_url_expired', message: 'The signed URL has expired' } });
    assert.equal(reasons, ['invalid', 'invalid', 'expired']);
  } finally {
    await s.close();
  }
});

local('headers, HEAD, 416, 404 and fall-through', async () => {
  const s = await localSetup();
  try {
    const dir = await mkdtemp(join(s.base, 'src-'));
    await writeFile(join(dir, 'a.mp3'), Buffer.alloc(1000, 1));
    const p = 'org/2026/01/01/a.mp3';
    assert.ok((await s.storage.put(p, join(dir, 'a.mp3'), { contentType: 'audio/mpeg' })).ok);
    const signed = await s.storage.createSignedUrl(p, 120);
    assert.ok(signed.ok);

    let res = await fetch(signed.value.url);
    assert.is(res.status, 200);
    assert.is(res.headers.get('content-type'), 'audio/mpeg');
    assert.is(res.headers.get('accept-ranges'), 'bytes');
    assert.is(res.headers.get('content-length'), '1000');
    assert.match(res.headers.get('cache-control') ?? '', /^private\b/);
    await res.arrayBuffer();

    res = await fetch(signed.value.url, { method: 'HEAD' });
    assert.is(res.status, 200);
    assert.is(res.headers.get('content-length'), '1000');
    assert.is((await res.arrayBuffer()).byteLength, 0);

    res = await fetch(signed.value.url, { method: 'HEAD', headers: { Range: 'bytes=10-19' } });
    assert.is(res.status, 206);
    assert.is(res.headers.get('content-range'), 'bytes 10-19/1000');
    assert.is(res.headers.get('content-length'), '10');

    res = await fetch(signed.value.url, { headers: { Range: 'bytes=5000-' } });
    assert.is(res.status, 416);
    assert.is(res.headers.get('content-range'), 'bytes */1000');
    assert.is((await res.json()).error.code, 'range_not_satisfiable');

    res = await fetch(signed.value.url, { headers: { Range: 'bytes=990-2000' } });
    assert.is(res.status, 206);
    assert.is(res.headers.get('content-range'), 'bytes 990-999/1000');
    assert.is((await res.arrayBuffer()).byteLength, 10);

    // object vanished after signing
    assert.ok((await s.storage.remove([p])).ok);
    res = await fetch(signed.value.url);
    assert.is(res.status, 404);
    assert.is((await res.json()).error.code, 'not_found');

    // not ours: the next middleware answers
    res = await fetch(`${s.baseUrl}/api/other`);
    assert.is(res.status, 418);
    await res.arrayBuffer();
    res = await fetch(signed.value.url, { method: 'POST' });
    assert.is(res.status, 418);
    await res.arrayBuffer();
  } finally {
    await s.close();
  }
});

local('never serves or writes outside the root, even through symlinks', async () => {
  const s = await localSetup();
  try {
    const outside = join(s.base, 'outside');
    await mkdir(outside, { recursive: true });
    await writeFile(join(outside, 'secret.wav'), 'TOP SECRET');
    const src = join(s.base, 'src.wav');
    await writeFile(src, 'payload');
    assert.ok((await s.storage.put('org/2026/01/01/ok.wav', src, { contentType: 'audio/wav' })).ok);

    // a symlinked file and a symlinked folder inside the root, both pointing out
    await symlink(join(outside, 'secret.wav'), join(s.root, 'org/2026/01/01/link.wav'));
    await symlink(outside, join(s.root, 'escape'));

    const st = await s.storage.stat('org/2026/01/01/link.wav');
    assert.ok(!st.ok && st.error.code === 'invalid_path');
    const signedLink = await s.storage.createSignedUrl('org/2026/01/01/link.wav', 60);
    assert.ok(!signedLink.ok && signedLink.error.code === 'invalid_path');

    // even a correctly signed URL (as if the secret had been used for it) gets 404
    for (const path of ['org/2026/01/01/link.wav', 'escape/secret.wav']) {
      const expires = Math.floor(Date.now() / 1000) + 60;
      const url = buildLocalSignedUrl({ publicBaseUrl: s.baseUrl, signingSecret: SECRET, path, expires });
      const res = await fetch(url);
      assert.is(res.status, 404, path);
      assert.not.match(await res.text(), 'TOP SECRET');
    }
    // a signed traversal path
    const expires = Math.floor(Date.now() / 1000) + 60;
    const sig = localSignature(SECRET, '../outside/secret.wav', expires);
    const res = await fetch(`${s.baseUrl}/recordings/..%2Foutside%2Fsecret.wav?expires=${expires}&sig=${sig}`);
    assert.ok(res.status === 404 || res.status === 403, String(res.status));
    assert.not.match(await res.text(), 'TOP SECRET');

    // writing through the symlinked folder is refused and nothing lands outside
    const put = await s.storage.put('escape/new.wav', src, { contentType: 'audio/wav' });
    assert.ok(!put.ok && put.error.code === 'invalid_path');
    assert.equal((await readdir(outside)).sort(), ['secret.wav']);

    // listing skips symlinks
    const listed: string[] = [];
    for await (const o of s.storage.list('')) listed.push(o.path);
    assert.equal(listed, ['org/2026/01/01/ok.wav']);
  } finally {
    await s.close();
  }
});

local('put is atomic: temp files never listed, failed put leaves nothing', async () => {
  const s = await localSetup();
  try {
    const p = 'org/2026/01/01/x.wav';
    const failed = await s.storage.put(p, join(s.base, 'does-not-exist.wav'), { contentType: 'audio/wav' });
    assert.ok(!failed.ok);
    assert.is(failed.error.retryable, false);
    const st = await s.storage.stat(p);
    assert.ok(st.ok && st.value === null);

    const src = join(s.base, 'src.wav');
    await writeFile(src, 'v1');
    assert.ok((await s.storage.put(p, src, { contentType: 'audio/wav' })).ok);
    const folder = join(s.root, 'org/2026/01/01');
    assert.equal(await readdir(folder), ['x.wav'], 'no temp file left behind');

    // a writer that crashed mid-way leaves a temp file: it is not an object
    await writeFile(join(folder, '.x.wav.abc123.callrec-tmp'), 'half');
    const listed: string[] = [];
    for await (const o of s.storage.list('org')) listed.push(o.path);
    assert.equal(listed, [p]);
    const reserved = await s.storage.put('org/a.wav.callrec-tmp', src, { contentType: 'audio/wav' });
    assert.ok(!reserved.ok && reserved.error.code === 'invalid_path');

    // removing the last object of a folder removes the empty folders too
    await rm(join(folder, '.x.wav.abc123.callrec-tmp'));
    assert.ok((await s.storage.remove([p])).ok);
    assert.equal(await readdir(s.root), []);
  } finally {
    await s.close();
  }
});

local.run();

// --- supabase: adapter specifics against the fake ------------------------------------------------------------

const supa = suite('storage: supabase adapter');

supa('uploads stream the file with upsert and Content-Length', async () => {
  const fake = await startFakeSupabaseStorage({ serviceRoleKey: SERVICE_KEY, bucket: 'rec' });
  const dir = await mkdtemp(join(tmpdir(), 'callrec-supa-'));
  try {
    const storage = createSupabaseStorage({ url: fake.url, serviceRoleKey: SERVICE_KEY, bucket: 'rec' });
    await writeFile(join(dir, 'a.wav'), Buffer.alloc(200_000, 3));
    const put = await storage.put('o/2026/01/01/a.wav', join(dir, 'a.wav'), { contentType: 'audio/wav' });
    assert.ok(put.ok);
    const upload = fake.requests.find((r) => r.method === 'POST' && r.path === '/storage/v1/object/rec/o/2026/01/01/a.wav');
    assert.ok(upload);
    assert.is(upload.headers['x-upsert'], 'true');
    assert.is(upload.headers['content-length'], '200000');
    assert.is(upload.headers['content-type'], 'audio/wav');
    assert.is(upload.headers.authorization, `Bearer ${SERVICE_KEY}`);
    assert.is(upload.headers.apikey, SERVICE_KEY);
    assert.is(fake.objects.get('o/2026/01/01/a.wav')?.bytes.length, 200_000);

    const signed = await storage.createSignedUrl('o/2026/01/01/a.wav', 60);
    assert.ok(signed.ok);
    assert.ok(signed.value.url.startsWith(`${fake.url}/storage/v1/object/sign/rec/o/2026/01/01/a.wav?token=`), signed.value.url);
  } finally {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  }
});

supa('wrong key → unauthorized; duplicate without upsert → conflict; 503 → unavailable', async () => {
  const fake = await startFakeSupabaseStorage({ serviceRoleKey: SERVICE_KEY, bucket: 'rec' });
  const dir = await mkdtemp(join(tmpdir(), 'callrec-supa-'));
  try {
    await writeFile(join(dir, 'a.wav'), 'abc');
    const wrong = createSupabaseStorage({ url: fake.url, serviceRoleKey: 'not-the-key', bucket: 'rec' });
    const put = await wrong.put('o/a.wav', join(dir, 'a.wav'), { contentType: 'audio/wav' });
    assert.ok(!put.ok);
    assert.is(put.error.code, 'unauthorized');
    assert.is(put.error.status, 403);
    assert.is(put.error.retryable, false);
    const st = await wrong.stat('o/a.wav');
    assert.ok(!st.ok && st.error.code === 'unauthorized');

    // a wrong bucket is an error, never "no such object"
    const noBucket = createSupabaseStorage({ url: fake.url, serviceRoleKey: SERVICE_KEY, bucket: 'nope' });
    const stNoBucket = await noBucket.stat('o/a.wav');
    assert.ok(!stNoBucket.ok, 'stat in a missing bucket fails');
    assert.is(stNoBucket.error.code, 'unknown');
    assert.match(stNoBucket.error.message, /bucket not found/i);

    // the protocol itself: a second create without x-upsert is "409 Duplicate" inside a 400
    const storage = createSupabaseStorage({ url: fake.url, serviceRoleKey: SERVICE_KEY, bucket: 'rec' });
    assert.ok((await storage.put('o/a.wav', join(dir, 'a.wav'), { contentType: 'audio/wav' })).ok);
    const raw = await fetch(`${fake.url}/storage/v1/object/rec/o/a.wav`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SERVICE_KEY}`, apikey: SERVICE_KEY, 'content-type': 'audio/wav' },
      body: 'xyz',
    });
    assert.is(raw.status, 400);
    const body = await raw.json();
    assert.is(body.statusCode, '409');
    assert.is(mapSupabaseError({ status: raw.status, statusCode: body.statusCode, message: body.message }).code, 'conflict');
    assert.is(fake.objects.get('o/a.wav')?.bytes.toString(), 'abc', 'not overwritten');

    fake.setDown('503');
    const down = await storage.stat('o/a.wav');
    assert.ok(!down.ok);
    assert.is(down.error.code, 'unavailable');
    assert.is(down.error.status, 503);
    assert.is(down.error.retryable, true);
    const downPut = await storage.put('o/b.wav', join(dir, 'a.wav'), { contentType: 'audio/wav' });
    assert.ok(!downPut.ok && downPut.error.code === 'unavailable');
    fake.setDown(false);
    assert.ok((await storage.stat('o/a.wav')).ok);
  } finally {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  }
});

supa('remove batches at 1000 paths per request', async () => {
  const fake = await startFakeSupabaseStorage({ serviceRoleKey: SERVICE_KEY, bucket: 'rec' });
  const dir = await mkdtemp(join(tmpdir(), 'callrec-supa-'));
  try {
    await writeFile(join(dir, 'a.wav'), 'abc');
    const storage = createSupabaseStorage({ url: fake.url, serviceRoleKey: SERVICE_KEY, bucket: 'rec' });
    assert.ok((await storage.put('o/keep-0.wav', join(dir, 'a.wav'), { contentType: 'audio/wav' })).ok);
    assert.ok((await storage.put('o/gone-1500.wav', join(dir, 'a.wav'), { contentType: 'audio/wav' })).ok);
    const paths = Array.from({ length: 2001 }, (_, i) => `o/gone-${i}.wav`);
    const removed = await storage.remove(paths);
    assert.ok(removed.ok);
    assert.is(removed.value.removed, 1);
    assert.is(fake.requests.filter((r) => r.method === 'DELETE').length, 3);
    assert.equal([...fake.objects.keys()], ['o/keep-0.wav']);
  } finally {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  }
});

supa('list escapes LIKE wildcards in folder names (org_a is not orgXa)', async () => {
  const fake = await startFakeSupabaseStorage({ serviceRoleKey: SERVICE_KEY, bucket: 'rec' });
  const dir = await mkdtemp(join(tmpdir(), 'callrec-supa-'));
  try {
    await writeFile(join(dir, 'a.wav'), 'abc');
    const storage = createSupabaseStorage({ url: fake.url, serviceRoleKey: SERVICE_KEY, bucket: 'rec' });
    for (const p of ['org_a/2026/01/01/c1.wav', 'orgXa/2026/01/01/c2.wav', 'org-a/2026/01/01/c3.wav', 'org_ab/x.wav']) {
      assert.ok((await storage.put(p, join(dir, 'a.wav'), { contentType: 'audio/wav' })).ok, p);
    }
    const underA: string[] = [];
    for await (const o of storage.list('org_a', { pageSize: 2 })) underA.push(o.path);
    assert.equal(underA, ['org_a/2026/01/01/c1.wav']);
    const all: string[] = [];
    for await (const o of storage.list('')) all.push(o.path);
    assert.equal(all.sort(), ['org-a/2026/01/01/c3.wav', 'orgXa/2026/01/01/c2.wav', 'org_a/2026/01/01/c1.wav', 'org_ab/x.wav'].sort());

    // keys supabase-js would mangle in the URL are refused before any request
    const before = fake.requests.length;
    for (const bad of ['o/a#b.wav', 'o/a?b.wav', 'o/a%20b.wav', 'o/a b.wav', 'o/ä.wav']) {
      const put = await storage.put(bad, join(dir, 'a.wav'), { contentType: 'audio/wav' });
      assert.ok(!put.ok && put.error.code === 'invalid_path', bad);
    }
    assert.is(fake.requests.length, before);
  } finally {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  }
});

supa('a big upload streams: memory stays far below the file size', async () => {
  // A sink that answers like Storage and keeps nothing, so any growth is the client's buffering.
  const size = 160 * 1024 * 1024;
  let received = 0;
  const sink = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => void (received += chunk.length));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ Id: 'id', Key: 'rec/o/big.wav' }));
    });
  });
  sink.listen(0, '127.0.0.1');
  await once(sink, 'listening');
  const dir = await mkdtemp(join(tmpdir(), 'callrec-supa-'));
  try {
    const file = join(dir, 'big.wav');
    await writeFile(file, '');
    await truncate(file, size); // sparse: costs no disk
    const storage = createSupabaseStorage({ url: `http://127.0.0.1:${(sink.address() as AddressInfo).port}`, serviceRoleKey: SERVICE_KEY, bucket: 'rec' });
    const base = process.memoryUsage().arrayBuffers;
    let peak = base;
    const sampler = setInterval(() => void (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 5);
    const put = await storage.put('o/big.wav', file, { contentType: 'audio/wav' });
    clearInterval(sampler);
    assert.ok(put.ok, put.ok ? '' : put.error.message);
    assert.is(received, size);
    const extraMb = (peak - base) / 1024 / 1024;
    assert.ok(extraMb < 48, `buffers grew by ${extraMb.toFixed(1)} MB for a ${size / 1024 / 1024} MB upload`);
  } finally {
    await closeServer(sink);
    await rm(dir, { recursive: true, force: true });
  }
});

supa.run();

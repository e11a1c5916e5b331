/**
 * The behaviour every RecordingStorage adapter must have, run against each of them by storage.test.ts.
 * A target is built fresh for every test and closed in `finally`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isStorageListError, recordingObjectPath, type RecordingStorage, type StorageError, type StoredObject } from '../../src/storage/port.ts';

export interface ContractTarget {
  storage: RecordingStorage;
  /** Moves the clock the adapter and the URL-serving side share. */
  advanceClock(seconds: number): void;
  /** Makes the storage unreachable (or reachable again). */
  setDown(down: boolean): Promise<void> | void;
  /** Backdates an object, as if written at `time`. */
  setObjectTime(path: string, time: Date): Promise<void> | void;
  /** Number of list requests made so far, when the adapter pages over the network. */
  listRequests?(): number;
  /** Status a tampered or expired signed URL gets from the URL-serving side. */
  rejectedStatus: number;
  close(): Promise<void>;
}

export function storageContract(name: string, makeTarget: () => Promise<ContractTarget>): void {
  const test = suite(`storage contract: ${name}`);

  async function withTarget(fn: (t: ContractTarget, dir: string) => Promise<void>): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'callrec-contract-'));
    const target = await makeTarget();
    try {
      await fn(target, dir);
    } finally {
      await target.close();
      await rm(dir, { recursive: true, force: true });
    }
  }

  async function file(dir: string, name: string, bytes: Buffer): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, bytes);
    return path;
  }

  const sha = (b: Buffer | ArrayBuffer) => createHash('sha256').update(Buffer.from(b as ArrayBuffer)).digest('hex');

  async function collect(storage: RecordingStorage, prefix: string, pageSize?: number): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    for await (const obj of storage.list(prefix, pageSize === undefined ? undefined : { pageSize })) out.push(obj);
    return out;
  }

  function path(callId: string, day = '2026-03-07T10:00:00Z', orgId = 'org_1'): string {
    const result = recordingObjectPath({ orgId, endedAt: new Date(day), callId, ext: 'wav' });
    if (!result.ok) throw new Error(result.error.message);
    return result.value;
  }

  function expectError(result: { ok: boolean; error?: StorageError }, code: StorageError['code']): StorageError {
    assert.is(result.ok, false, `expected ${code}, got ok`);
    assert.is(result.error!.code, code, result.error!.message);
    return result.error!;
  }

  test('put, stat, overwrite keeps one object', async () => {
    await withTarget(async ({ storage }, dir) => {
      const p = path('call-a');
      const first = await storage.put(p, await file(dir, 'a1.wav', Buffer.from('first version')), { contentType: 'audio/wav' });
      assert.ok(first.ok);
      assert.equal(first.value, { bytes: 13 });

      const st = await storage.stat(p);
      assert.ok(st.ok && st.value);
      assert.is(st.value.path, p);
      assert.is(st.value.bytes, 13);
      assert.ok(Math.abs(st.value.lastModified.getTime() - Date.now()) < 60_000, 'lastModified is about now');

      const second = await storage.put(p, await file(dir, 'a2.wav', Buffer.from('second, longer version')), { contentType: 'audio/wav' });
      assert.ok(second.ok);
      const st2 = await storage.stat(p);
      assert.ok(st2.ok && st2.value);
      assert.is(st2.value.bytes, 22);

      const all = await collect(storage, '');
      assert.equal(all.map((o) => o.path), [p], 'exactly one object after overwrite');
      assert.is(all[0]!.bytes, 22);

      const missing = await storage.stat(path('call-none'));
      assert.ok(missing.ok);
      assert.is(missing.value, null);
    });
  });

  test('signed URL serves the same bytes, with Range', async () => {
    await withTarget(async ({ storage }, dir) => {
      const bytes = randomBytes(50_000);
      const p = path('call-b');
      assert.ok((await storage.put(p, await file(dir, 'b.wav', bytes), { contentType: 'audio/wav' })).ok);

      const signed = await storage.createSignedUrl(p, 600);
      assert.ok(signed.ok);
      const expiresIn = (signed.value.expiresAt.getTime() - Date.now()) / 1000;
      assert.ok(expiresIn > 590 && expiresIn <= 601, `expiresAt ~ 600 s ahead (${expiresIn})`);

      const full = await fetch(signed.value.url);
      assert.is(full.status, 200);
      assert.is(full.headers.get('content-type'), 'audio/wav');
      assert.is(sha(await full.arrayBuffer()), sha(bytes));

      const part = await fetch(signed.value.url, { headers: { Range: 'bytes=100-199' } });
      assert.is(part.status, 206);
      assert.is(part.headers.get('content-range'), `bytes 100-199/${bytes.length}`);
      assert.is(sha(await part.arrayBuffer()), sha(bytes.subarray(100, 200)));

      const tail = await fetch(signed.value.url, { headers: { Range: 'bytes=-10' } });
      assert.is(tail.status, 206);
      assert.equal(Buffer.from(await tail.arrayBuffer()), bytes.subarray(bytes.length - 10));

      const beyond = await fetch(signed.value.url, { headers: { Range: `bytes=${bytes.length}-` } });
      assert.is(beyond.status, 416);
      await beyond.arrayBuffer();
    });
  });

  test('signing a missing object is not_found', async () => {
    await withTarget(async ({ storage }) => {
      expectError(await storage.createSignedUrl(path('call-missing'), 60), 'not_found');
    });
  });

  test('tampered and expired signed URLs are refused', async () => {
    await withTarget(async (t, dir) => {
      const bytes = Buffer.from('secret audio bytes');
      const p = path('call-c');
      assert.ok((await t.storage.put(p, await file(dir, 'c.wav', bytes), { contentType: 'audio/wav' })).ok);
      const signed = await t.storage.createSignedUrl(p, 60);
      assert.ok(signed.ok);
      const url = new URL(signed.value.url);

      // another object's path under the same signature
      const other = new URL(url);
      other.pathname = url.pathname.replace('call-c.wav', 'call-d.wav');
      const otherRes = await fetch(other);
      assert.is(otherRes.status, t.rejectedStatus);
      await otherRes.arrayBuffer();

      // change one character in the middle of every query value (signature, token, expiry)
      const tampered = new URL(url);
      for (const [k, v] of url.searchParams) {
        const i = Math.floor(v.length / 2);
        tampered.searchParams.set(k, v.slice(0, i) + (v[i] === 'A' ? 'B' : 'A') + v.slice(i + 1));
      }
      const tamperedRes = await fetch(tampered);
      assert.is(tamperedRes.status, t.rejectedStatus);
      assert.not.ok(Buffer.from(await tamperedRes.arrayBuffer()).includes(bytes));

      const stillGood = await fetch(url);
      assert.is(stillGood.status, 200);
      await stillGood.arrayBuffer();

      t.advanceClock(61);
      const expired = await fetch(url);
      assert.is(expired.status, t.rejectedStatus);
      assert.not.ok(Buffer.from(await expired.arrayBuffer()).includes(bytes));
    });
  });

  test('list pages through many objects, recursively, with lastModified', async () => {
    await withTarget(async (t, dir) => {
      const src = await file(dir, 'x.wav', Buffer.from('x'));
      const expected: string[] = [];
      for (let i = 0; i < 23; i++) {
        const p = path(`call-${String(i).padStart(2, '0')}`, `2026-0${1 + (i % 3)}-1${i % 5}T23:59:59Z`, i % 2 ? 'org_a' : 'org_b');
        assert.ok((await t.storage.put(p, src, { contentType: 'audio/wav' })).ok);
        expected.push(p);
      }
      const old = expected[3]!;
      const oldTime = new Date(Date.now() - 10 * 86_400_000);
      await t.setObjectTime(old, oldTime);

      const before = t.listRequests?.() ?? 0;
      const all = await collect(t.storage, '', 2);
      assert.equal(all.map((o) => o.path).sort(), [...expected].sort());
      assert.is(new Set(all.map((o) => o.path)).size, all.length, 'no duplicates');
      if (t.listRequests) assert.ok(t.listRequests() - before > 12, `paged (${t.listRequests() - before} list requests)`);
      const aged = all.find((o) => o.path === old)!;
      assert.ok(Math.abs(aged.lastModified.getTime() - oldTime.getTime()) < 2000, 'backdated time is visible');
      assert.ok(all.every((o) => o.bytes === 1));

      const orgA = await collect(t.storage, 'org_a', 3);
      assert.equal(orgA.map((o) => o.path).sort(), expected.filter((p) => p.startsWith('org_a/')).sort());
      const orgASlash = await collect(t.storage, 'org_a/', 100);
      assert.is(orgASlash.length, orgA.length);
      assert.equal(await collect(t.storage, 'org_zzz'), []);
    });
  });

  test('remove deletes existing objects and counts them', async () => {
    await withTarget(async ({ storage }, dir) => {
      const src = await file(dir, 'r.wav', Buffer.from('rr'));
      const [a, b, c] = [path('call-r1'), path('call-r2', '2026-04-01T00:00:00Z'), path('call-r3')];
      for (const p of [a, b, c]) assert.ok((await storage.put(p, src, { contentType: 'audio/wav' })).ok);

      const removed = await storage.remove([a, b, path('call-never')]);
      assert.ok(removed.ok);
      assert.is(removed.value.removed, 2);
      const st = await storage.stat(a);
      assert.ok(st.ok);
      assert.is(st.value, null);
      assert.equal((await collect(storage, '')).map((o) => o.path), [c]);

      const none = await storage.remove([]);
      assert.ok(none.ok);
      assert.is(none.value.removed, 0);
    });
  });

  test('removing while listing loses nothing', async () => {
    await withTarget(async ({ storage }, dir) => {
      const src = await file(dir, 's.wav', Buffer.from('s'));
      const paths = Array.from({ length: 12 }, (_, i) => path(`call-s${String(i).padStart(2, '0')}`));
      for (const p of paths) assert.ok((await storage.put(p, src, { contentType: 'audio/wav' })).ok);
      const seen: string[] = [];
      for await (const obj of storage.list('', { pageSize: 5 })) {
        seen.push(obj.path);
        const r = await storage.remove([obj.path]);
        assert.ok(r.ok);
      }
      assert.equal(seen.sort(), [...paths].sort());
      assert.equal(await collect(storage, ''), []);
    });
  });

  test('paths that could escape are refused', async () => {
    await withTarget(async ({ storage }, dir) => {
      const src = await file(dir, 'e.wav', Buffer.from('e'));
      for (const bad of ['../escape.wav', 'a/../../b.wav', '/abs/x.wav', 'a\\b.wav', 'a//b.wav', 'a/./b.wav', '', 'a/b/', 'a\u0000b']) {
        expectError(await storage.put(bad, src, { contentType: 'audio/wav' }), 'invalid_path');
        expectError(await storage.stat(bad), 'invalid_path');
        expectError(await storage.createSignedUrl(bad, 60), 'invalid_path');
        expectError(await storage.remove(['ok/path.wav', bad]), 'invalid_path');
      }
      let thrown: unknown;
      try {
        await collect(storage, '../');
      } catch (err) {
        thrown = err;
      }
      assert.ok(isStorageListError(thrown));
      assert.is(thrown.storageError.code, 'invalid_path');
    });
  });

  test('storage down → retryable unavailable, then recovers', async () => {
    await withTarget(async (t, dir) => {
      const src = await file(dir, 'd.wav', Buffer.from('dd'));
      const p = path('call-down');
      assert.ok((await t.storage.put(p, src, { contentType: 'audio/wav' })).ok);
      await t.setDown(true);
      try {
        for (const result of [
          await t.storage.put(path('call-down-2'), src, { contentType: 'audio/wav' }),
          await t.storage.stat(p),
          await t.storage.createSignedUrl(p, 60),
          await t.storage.remove([p]),
        ]) {
          const error = expectError(result, 'unavailable');
          assert.is(error.retryable, true);
        }
        let thrown: unknown;
        try {
          await collect(t.storage, '');
        } catch (err) {
          thrown = err;
        }
        assert.ok(isStorageListError(thrown));
        assert.is(thrown.storageError.code, 'unavailable');
        assert.is(thrown.storageError.retryable, true);
      } finally {
        await t.setDown(false);
      }
      const st = await t.storage.stat(p);
      assert.ok(st.ok && st.value);
      assert.is(st.value.bytes, 2);
    });
  });

  test('a few-MB recording round-trips', async () => {
    await withTarget(async ({ storage }, dir) => {
      const bytes = randomBytes(6 * 1024 * 1024 + 123);
      const p = path('call-big');
      const put = await storage.put(p, await file(dir, 'big.wav', bytes), { contentType: 'audio/wav' });
      assert.ok(put.ok, put.ok ? '' : put.error.message);
      assert.is(put.value.bytes, bytes.length);
      const signed = await storage.createSignedUrl(p, 60);
      assert.ok(signed.ok);
      const res = await fetch(signed.value.url);
      assert.is(res.status, 200);
      assert.is(sha(await res.arrayBuffer()), sha(bytes));
    });
  });

  test.run();
}

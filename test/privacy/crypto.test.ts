import { hkdfSync, randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deriveDataKey, newKeyMaterial, open, seal, unwrapKey, wrapKey } from '../../src/privacy/crypto.ts';

/** The sealing keys are HKDF-SHA256 of the data key (empty salt), whichever way they are computed. */
test('deriveDataKey gives the HKDF-SHA256 subkeys of the data key', () => {
  for (let i = 0; i < 50; i++) {
    const raw = randomBytes(32);
    const hkdf = (label: string) => Buffer.from(hkdfSync('sha256', raw, Buffer.alloc(0), `callrec ${label}`, 32));
    const k = deriveDataKey(raw);
    assert.ok(k.enc.equals(hkdf('pii enc')));
    assert.ok(k.siv.equals(hkdf('pii siv')));
  }
});

test('a wrapped key unwraps under the same master (derived once) and not under another', () => {
  const master = randomBytes(32);
  const raw = randomBytes(32);
  const wrapped = wrapKey(master, raw, 'call_keys:c1:call');
  for (let i = 0; i < 3; i++) assert.ok(unwrapKey(master, wrapped, 'call_keys:c1:call').equals(raw));
  assert.throws(() => unwrapKey(Buffer.from(master), Buffer.concat([wrapped.subarray(0, 20), Buffer.from([wrapped[20]! ^ 1]), wrapped.subarray(21)]), 'call_keys:c1:call'));
  assert.throws(() => unwrapKey(randomBytes(32), wrapped, 'call_keys:c1:call'));
  assert.throws(() => unwrapKey(master, wrapped, 'call_keys:c2:call'));
});

test('key material drawn at once: every key and wrapping IV its own bytes, and a key wrapped with its IV unwraps', () => {
  const master = randomBytes(32);
  const material = newKeyMaterial(64);
  assert.is(material.length, 64);
  const seen = new Set<string>();
  for (const [i, m] of material.entries()) {
    assert.is(m.raw.length, 32);
    assert.is(m.wrapIv.length, 12);
    for (const b of [m.raw, m.wrapIv]) {
      assert.not.ok(seen.has(b.toString('hex')), 'repeated key material');
      seen.add(b.toString('hex'));
    }
    const wrapped = wrapKey(master, m.raw, `call_keys:c${i}:call`, m.wrapIv);
    assert.ok(wrapped.subarray(0, 12).equals(m.wrapIv));
    assert.ok(unwrapKey(master, wrapped, `call_keys:c${i}:call`).equals(m.raw));
  }
  assert.throws(() => wrapKey(master, material[0]!.raw, 'call_keys:c0:call', Buffer.alloc(8)), /12 bytes/);
});

test('sealing is deterministic per key, field and text, and bound to the field', () => {
  const k = deriveDataKey(randomBytes(32));
  const a = seal(k, 'transcript', 'hello');
  assert.is(seal(k, 'transcript', 'hello'), a);
  assert.is.not(seal(k, 'summary', 'hello'), a);
  assert.is.not(seal(deriveDataKey(randomBytes(32)), 'transcript', 'hello'), a);
  assert.is(open(k, 'transcript', a), 'hello');
  assert.throws(() => open(k, 'summary', a));
});

test.run();

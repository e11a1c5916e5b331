import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createAddressPolicy } from '../../src/net/addressPolicy.ts';
import { isHostAllowed } from '../../src/net/hostPolicy.ts';
import { downloadToFile } from '../../src/net/safeDownload.ts';

const test = suite('address and host policy');

const refused = [
  '127.0.0.1', '127.255.0.9', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.0.1', '169.254.169.254', '169.254.0.1',
  '100.64.0.1', '100.127.255.254', '0.0.0.0', '0.1.2.3', '255.255.255.255', '224.0.0.251', '239.255.255.250', '240.0.0.1',
  '192.0.2.10', '198.18.0.1', '198.51.100.7', '203.0.113.9',
  '::1', '::', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'fe80::1%eth0', 'ff02::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1',
  '::ffff:169.254.169.254', '::127.0.0.1', '64:ff9b::a9fe:a9fe', '64:ff9b:1::1', '2002:7f00:1::1', '2001:0:4136:e378::1', '2001:db8::1',
  'not-an-ip', '',
];
const accepted = ['8.8.8.8', '1.1.1.1', '52.95.110.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450:4001:82a::200e', '::ffff:8.8.8.8'];

test('internal, special and malformed addresses are refused', () => {
  const policy = createAddressPolicy();
  for (const address of refused) assert.not.ok(policy.check(address).ok, address);
});

test('public unicast addresses are accepted', () => {
  const policy = createAddressPolicy();
  for (const address of accepted) assert.ok(policy.check(address).ok, address);
});

test('allowedAddresses: exact IPs and CIDRs, IPv4-mapped forms follow their IPv4 entry', () => {
  const policy = createAddressPolicy(['127.0.0.1', '10.20.0.0/16', '::1', 'fd00::/8']);
  for (const address of ['127.0.0.1', '::ffff:127.0.0.1', '10.20.3.4', '::1', 'fd00::5']) assert.ok(policy.check(address).ok, address);
  for (const address of ['127.0.0.2', '10.21.0.1', '169.254.169.254', 'fc00::1']) assert.not.ok(policy.check(address).ok, address);
});

test('a malformed allowedAddresses entry is a configuration error', async () => {
  assert.throws(() => createAddressPolicy(['localhost']), /allowedAddresses/);
  try {
    await downloadToFile({ url: 'http://127.0.0.1/', allowedHosts: ['*'], allowedAddresses: ['10.0.0.0/99'], timeoutMs: 1000, maxBytes: 10, destDir: '/tmp' });
    assert.unreachable('should throw');
  } catch (err) {
    assert.match((err as Error).message, /allowedAddresses/);
  }
});

test('host allow-list: exact, wildcard, any; case, trailing dot and brackets ignored', () => {
  const allowed = ['storage.vapi.ai', '*.supabase.co', '127.0.0.1', '[::1]'];
  assert.ok(isHostAllowed('storage.vapi.ai', allowed));
  assert.ok(isHostAllowed('STORAGE.Vapi.AI.', allowed));
  assert.ok(isHostAllowed('abc.supabase.co', allowed));
  assert.ok(isHostAllowed('a.b.supabase.co', allowed));
  assert.ok(isHostAllowed('[::1]', allowed));
  assert.ok(isHostAllowed('127.0.0.1', allowed));
  assert.not.ok(isHostAllowed('supabase.co', allowed), 'wildcard does not cover the apex');
  assert.not.ok(isHostAllowed('evilsupabase.co', allowed));
  assert.not.ok(isHostAllowed('storage.vapi.ai.evil.com', allowed));
  assert.not.ok(isHostAllowed('vapi.ai', allowed));
  assert.not.ok(isHostAllowed('', allowed));
  assert.ok(isHostAllowed('anything.example', ['*']));
  assert.not.ok(isHostAllowed('anything.example', []));
});

test.run();

import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { inspectAudioFile, type InspectResult } from '../../src/audio/inspect.ts';
import { downloadToFile } from '../../src/net/safeDownload.ts';
import { mp3Bytes, wavHeader, writeMp3File, writeWavFile } from '../fakes/audioFiles.ts';
import { startRecordingServer } from '../fakes/recordingServer.ts';

const test = suite('inspectAudioFile');

let dir: string;
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'callrec-inspect-'));
});
test.after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const file = (name: string) => join(dir, name);

function code(r: InspectResult): string {
  return r.ok ? 'ok' : r.error.code;
}

function ok(r: InspectResult) {
  if (!r.ok) throw new assert.Assertion({ message: `expected audio, got ${r.error.code}: ${r.error.message}`, operator: 'ok', expects: 'ok', actual: r.error.code });
  return r;
}

/** Seeded pseudo-random bytes. */
function noise(bytes: number, seed: number): Buffer {
  const buf = Buffer.alloc(bytes);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    buf[i] = s & 0xff;
  }
  return buf;
}

/** A minimal ID3v2.3 tag with one TIT2 (title) frame. */
function id3Tag(title: string, declaredExtra = 0): Buffer {
  const text = Buffer.concat([Buffer.from([0]), Buffer.from(title, 'latin1')]);
  const frame = Buffer.alloc(10 + text.length);
  frame.write('TIT2', 0, 'latin1');
  frame.writeUInt32BE(text.length, 4);
  text.copy(frame, 10);
  const size = frame.length + declaredExtra;
  const header = Buffer.from([0x49, 0x44, 0x33, 3, 0, 0, (size >> 21) & 0x7f, (size >> 14) & 0x7f, (size >> 7) & 0x7f, size & 0x7f]);
  return Buffer.concat([header, frame]);
}

// ---------------------------------------------------------------- WAV

test('WAV 8 kHz mono 16-bit', async () => {
  const bytes = await writeWavFile(file('a.wav'), { seconds: 3, sampleRate: 8000, channels: 1 });
  const r = ok(await inspectAudioFile(file('a.wav')));
  assert.is(r.format, 'wav');
  assert.is(r.codec, 'PCM');
  assert.is(r.sampleRate, 8000);
  assert.is(r.channels, 1);
  assert.is(r.durationSeconds, 3);
  assert.is(r.bytes, bytes);
  assert.is(r.contentType, 'audio/wav');
  assert.is(r.ext, 'wav');
  assert.is(r.bitsPerSample, 16);
});

test('WAV 16 kHz stereo 8-bit', async () => {
  await writeWavFile(file('b.wav'), { seconds: 2.5, sampleRate: 16000, channels: 2, bitsPerSample: 8 });
  const r = ok(await inspectAudioFile(file('b.wav')));
  assert.is(r.sampleRate, 16000);
  assert.is(r.channels, 2);
  assert.is(r.durationSeconds, 2.5);
  assert.is(r.bitsPerSample, 8);
});

test('WAV with a LIST chunk before the data chunk', async () => {
  const data = (await readFile(await writeWavFile(file('plain.wav'), { seconds: 1 }).then(() => file('plain.wav')))).subarray(44);
  const header = wavHeader({ dataBytes: data.length });
  const list = Buffer.alloc(8 + 26);
  list.write('LIST', 0, 'latin1');
  list.writeUInt32LE(26, 4);
  list.write('INFOISFT', 8, 'latin1');
  list.writeUInt32LE(14, 16);
  list.write('callrec tests', 20, 'latin1');
  const out = Buffer.concat([header.subarray(0, 36), list, header.subarray(36), data]);
  out.writeUInt32LE(out.length - 8, 4);
  await writeFile(file('list.wav'), out);
  const r = ok(await inspectAudioFile(file('list.wav')));
  assert.is(r.durationSeconds, 1);
});

test('truncated WAV: data chunk larger than the file', async () => {
  const full = await readFile(await writeWavFile(file('full.wav'), { seconds: 4 }).then(() => file('full.wav')));
  await writeFile(file('cut.wav'), full.subarray(0, Math.floor(full.length / 3)));
  const r = await inspectAudioFile(file('cut.wav'));
  assert.is(code(r), 'truncated');
  assert.ok(!r.ok && /declares 64000 bytes/.test(r.error.message), !r.ok ? r.error.message : '');
  await writeFile(file('cut-header.wav'), full.subarray(0, 30));
  assert.is(code(await inspectAudioFile(file('cut-header.wav'))), 'truncated');
});

test('zero_duration: a WAV with an empty data chunk', async () => {
  await writeFile(file('zero.wav'), wavHeader({ dataBytes: 0 }));
  assert.is(code(await inspectAudioFile(file('zero.wav'))), 'zero_duration');
});

test('unsupported_codec: WAV in IMA ADPCM, and 12-bit PCM', async () => {
  await writeFile(file('adpcm.wav'), Buffer.concat([wavHeader({ dataBytes: 4000, formatTag: 0x11, bitsPerSample: 16 }), noise(4000, 3)]));
  const r = await inspectAudioFile(file('adpcm.wav'));
  assert.is(code(r), 'unsupported_codec');
  assert.ok(!r.ok && /IMA ADPCM/.test(r.error.message));
  const odd = wavHeader({ dataBytes: 4000 });
  odd.writeUInt16LE(12, 34);
  await writeFile(file('12bit.wav'), Buffer.concat([odd, noise(4000, 4)]));
  assert.is(code(await inspectAudioFile(file('12bit.wav'))), 'unsupported_codec');
});

// ---------------------------------------------------------------- MP3

test('MP3 (MPEG 2.5 Layer III, 8 kHz mono)', async () => {
  const bytes = await writeMp3File(file('a.mp3'), { seconds: 5 });
  const r = ok(await inspectAudioFile(file('a.mp3')));
  assert.is(r.format, 'mp3');
  assert.match(r.codec, /Layer 3$/);
  assert.is(r.sampleRate, 8000);
  assert.is(r.channels, 1);
  assert.ok(Math.abs(r.durationSeconds - 5) < 0.25, `duration ${r.durationSeconds}`);
  assert.is(r.bytes, bytes);
  assert.is(r.contentType, 'audio/mpeg');
  assert.is(r.ext, 'mp3');
});

test('MP3 with an ID3v2 tag, stereo 16 kHz', async () => {
  await writeFile(file('tagged.mp3'), Buffer.concat([id3Tag('Call 42'), mp3Bytes({ seconds: 3, sampleRate: 16000, channels: 2, kbps: 48 })]));
  const r = ok(await inspectAudioFile(file('tagged.mp3')));
  assert.is(r.format, 'mp3');
  assert.is(r.sampleRate, 16000);
  assert.is(r.channels, 2);
  assert.ok(Math.abs(r.durationSeconds - 3) < 0.25, `duration ${r.durationSeconds}`);
});

test('truncated MP3: ends inside a frame, or inside its ID3 tag', async () => {
  const mp3 = mp3Bytes({ seconds: 4 });
  await writeFile(file('cut.mp3'), mp3.subarray(0, Math.floor(mp3.length / 2) + 17));
  assert.is(code(await inspectAudioFile(file('cut.mp3'))), 'truncated');
  await writeFile(file('cut-tag.mp3'), id3Tag('x', 5000));
  assert.is(code(await inspectAudioFile(file('cut-tag.mp3'))), 'truncated');
});

test('unsupported_codec: MPEG Layer II frames', async () => {
  // MPEG-1 Layer II, 128 kbps, 44.1 kHz, no padding: 417-byte frames
  const frame = Buffer.alloc(417);
  frame.set([0xff, 0xfd, 0x80, 0xc0]);
  await writeFile(file('a.mp2'), Buffer.concat(Array.from({ length: 40 }, () => frame)));
  const r = await inspectAudioFile(file('a.mp2'));
  assert.is(code(r), 'unsupported_codec', !r.ok ? r.error.message : '');
});

// ---------------------------------------------------------------- not audio

test('empty file', async () => {
  await writeFile(file('empty.wav'), '');
  assert.is(code(await inspectAudioFile(file('empty.wav'))), 'empty');
});

test('HTML and XML error pages are reported as html', async () => {
  const pages = [
    '<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body>Forbidden</body></html>',
    '\n\n  <html><body><h1>Bad Gateway</h1></body></html>',
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>',
    '\ufeff<!doctype html><title>Sign in</title>',
  ];
  for (const [i, page] of pages.entries()) {
    await writeFile(file(`page${i}.wav`), page);
    assert.is(code(await inspectAudioFile(file(`page${i}.wav`))), 'html', page);
  }
});

test('JSON and plain-text error bodies are not_audio', async () => {
  await writeFile(file('err.mp3'), '{"error":{"code":"not_found","message":"Recording not found"}}');
  assert.is(code(await inspectAudioFile(file('err.mp3'))), 'not_audio');
  await writeFile(file('err.txt'), 'Service Unavailable\n');
  assert.is(code(await inspectAudioFile(file('err.txt'))), 'not_audio');
});

test('random bytes are not_audio, even when they start with an MPEG sync word', async () => {
  for (const seed of [1, 2, 3, 99, 12345]) {
    await writeFile(file(`noise${seed}.bin`), noise(32 * 1024, seed));
    assert.is(code(await inspectAudioFile(file(`noise${seed}.bin`))), 'not_audio', `seed ${seed}`);
  }
  const fake = noise(32 * 1024, 7);
  fake.set([0xff, 0xfb, 0x90, 0x64]); // one plausible MPEG-1 Layer III header followed by junk
  await writeFile(file('fake-sync.mp3'), fake);
  assert.is(code(await inspectAudioFile(file('fake-sync.mp3'))), 'not_audio');
});

test('unreadable: missing file and a directory', async () => {
  assert.is(code(await inspectAudioFile(file('does-not-exist.wav'))), 'unreadable');
  await mkdir(file('a-dir'));
  assert.is(code(await inspectAudioFile(file('a-dir'))), 'unreadable');
});

test('an HTML page served with 200 downloads fine but inspects as html', async () => {
  const server = await startRecordingServer();
  try {
    const dl = await downloadToFile({
      url: `${server.url}/rec/call.wav?fail=html`,
      allowedHosts: ['127.0.0.1'],
      allowedAddresses: ['127.0.0.1'],
      timeoutMs: 5000,
      maxBytes: 1024 * 1024,
      destDir: dir,
    });
    assert.ok(dl.ok);
    if (!dl.ok) return;
    assert.match(dl.contentType ?? '', /text\/html/);
    assert.is(code(await inspectAudioFile(dl.path)), 'html');

    const mp3 = await downloadToFile({
      url: `${server.url}/rec/call.mp3?seconds=4`,
      allowedHosts: ['127.0.0.1'],
      allowedAddresses: ['127.0.0.1'],
      timeoutMs: 5000,
      maxBytes: 1024 * 1024,
      destDir: dir,
    });
    assert.ok(mp3.ok);
    if (mp3.ok) assert.is(ok(await inspectAudioFile(mp3.path)).format, 'mp3');
  } finally {
    await server.close();
  }
});

test.run();

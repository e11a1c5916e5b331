import { access, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AudioConvertError, convertWavToMp3 } from '../../src/audio/convert.ts';
import { inspectAudioFile } from '../../src/audio/inspect.ts';
import { wavHeader, writeMp3File, writeWavFile } from '../fakes/audioFiles.ts';

const test = suite('convertWavToMp3');

let dir: string;
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'callrec-convert-'));
});
test.after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const file = (name: string) => join(dir, name);

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function expectConvertError(promise: Promise<unknown>, code: string): Promise<AudioConvertError> {
  try {
    await promise;
  } catch (err) {
    assert.instance(err, AudioConvertError);
    assert.is((err as AudioConvertError).code, code, (err as Error).message);
    return err as AudioConvertError;
  }
  throw new assert.Assertion({ message: `expected ${code}, conversion succeeded`, operator: 'throws', expects: code, actual: 'ok' });
}

test('8 kHz mono 16-bit WAV → valid MP3 of the same duration, ratio reported', async () => {
  const inputBytes = await writeWavFile(file('a.wav'), { seconds: 10, sampleRate: 8000, channels: 1 });
  const r = await convertWavToMp3(file('a.wav'), file('a.mp3'), { bitrateKbps: 32 });
  assert.is(r.inputBytes, inputBytes);
  assert.is(r.bytes, (await stat(file('a.mp3'))).size);
  assert.ok(Math.abs(r.ratio - inputBytes / r.bytes) < 1e-9);
  assert.ok(r.ratio > 3, `ratio ${r.ratio}`); // 128 kbit/s PCM → 32 kbit/s MP3
  assert.is(r.durationSeconds, 10);
  assert.ok(r.seconds > 0 && r.seconds < 10, `took ${r.seconds}s`);
  assert.is(r.sampleRate, 8000);
  assert.is(r.channels, 1);
  assert.not.ok(await exists(file('a.mp3.partial')), 'partial file renamed away');

  const info = await inspectAudioFile(file('a.mp3'));
  assert.ok(info.ok, !info.ok ? info.error.message : '');
  if (!info.ok) return;
  assert.is(info.format, 'mp3');
  assert.is(info.channels, 1);
  assert.is(info.sampleRate, 8000);
  assert.ok(Math.abs(info.durationSeconds - 10) < 0.3, `duration ${info.durationSeconds}`);
  assert.ok(Math.abs(info.bytes * 8 / info.durationSeconds / 1000 - 32) < 2, 'about 32 kbit/s');
});

test('16 kHz stereo 8-bit: downmixed by default, kept stereo with mono: false', async () => {
  await writeWavFile(file('s.wav'), { seconds: 4, sampleRate: 16000, channels: 2, bitsPerSample: 8 });
  const mono = await convertWavToMp3(file('s.wav'), file('s-mono.mp3'));
  assert.is(mono.channels, 1);
  const monoInfo = await inspectAudioFile(file('s-mono.mp3'));
  assert.ok(monoInfo.ok && monoInfo.channels === 1 && monoInfo.sampleRate === 16000);

  const stereo = await convertWavToMp3(file('s.wav'), file('s-stereo.mp3'), { bitrateKbps: 64, mono: false });
  assert.is(stereo.channels, 2);
  const stereoInfo = await inspectAudioFile(file('s-stereo.mp3'));
  assert.ok(stereoInfo.ok, !stereoInfo.ok ? stereoInfo.error.message : '');
  if (!stereoInfo.ok) return;
  assert.is(stereoInfo.channels, 2);
  assert.ok(Math.abs(stereoInfo.durationSeconds - 4) < 0.3);
});

test('44.1 kHz 24-bit stereo converts (higher rates and widths)', async () => {
  await writeWavFile(file('hi.wav'), { seconds: 2, sampleRate: 44100, channels: 2, bitsPerSample: 24 });
  const r = await convertWavToMp3(file('hi.wav'), file('hi.mp3'), { bitrateKbps: 64 });
  assert.is(r.durationSeconds, 2);
  const info = await inspectAudioFile(file('hi.mp3'));
  assert.ok(info.ok && Math.abs(info.durationSeconds - 2) < 0.3, JSON.stringify(info));
});

test('µ-law telephony WAV converts', async () => {
  const samples = Buffer.alloc(8000);
  for (let i = 0; i < samples.length; i++) samples[i] = (i * 37) & 0xff;
  await writeFile(file('ulaw.wav'), Buffer.concat([wavHeader({ dataBytes: samples.length, formatTag: 7, bitsPerSample: 8 }), samples]));
  const r = await convertWavToMp3(file('ulaw.wav'), file('ulaw.mp3'));
  assert.is(r.durationSeconds, 1);
  const info = await inspectAudioFile(file('ulaw.mp3'));
  assert.ok(info.ok, !info.ok ? info.error.message : '');
});

test('a sample rate MP3 cannot carry is an error, and nothing is written', async () => {
  await writeWavFile(file('7k.wav'), { seconds: 1, sampleRate: 7000 });
  const err = await expectConvertError(convertWavToMp3(file('7k.wav'), file('7k.mp3')), 'unsupported_sample_rate');
  assert.match(err.message, /7000 Hz/);
  assert.not.ok(await exists(file('7k.mp3')));
  assert.not.ok(await exists(file('7k.mp3.partial')));
});

test('not a WAV, truncated WAV, undecodable codec, bad bitrate', async () => {
  await writeMp3File(file('in.mp3'), { seconds: 1 });
  await expectConvertError(convertWavToMp3(file('in.mp3'), file('x1.mp3')), 'not_wav');

  await writeFile(file('cut.wav'), Buffer.concat([wavHeader({ dataBytes: 16000 }), Buffer.alloc(1000)]));
  await expectConvertError(convertWavToMp3(file('cut.wav'), file('x2.mp3')), 'truncated');

  await writeFile(file('adpcm.wav'), Buffer.concat([wavHeader({ dataBytes: 1000, formatTag: 0x11 }), Buffer.alloc(1000)]));
  await expectConvertError(convertWavToMp3(file('adpcm.wav'), file('x3.mp3')), 'unsupported_format');

  await writeWavFile(file('ok.wav'), { seconds: 1 });
  await expectConvertError(convertWavToMp3(file('ok.wav'), file('x4.mp3'), { bitrateKbps: 1000 }), 'invalid_options');
  await expectConvertError(convertWavToMp3(file('missing.wav'), file('x5.mp3')), 'io_error');

  const leftovers = (await readdir(dir)).filter((f) => /^x\d\.mp3/.test(f));
  assert.equal(leftovers, []);
});

test('the event loop keeps running while a long file converts in the worker', async () => {
  await writeWavFile(file('long.wav'), { seconds: 60, sampleRate: 16000, channels: 2 });
  let last = performance.now();
  let maxGap = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    ticks++;
  }, 5);
  try {
    const r = await convertWavToMp3(file('long.wav'), file('long.mp3'));
    assert.is(r.durationSeconds, 60);
    assert.ok(r.seconds > 0.2, 'long enough to measure');
    assert.ok(maxGap < 150, `event loop stalled for ${maxGap.toFixed(0)} ms`);
    assert.ok(ticks > (r.seconds * 1000) / 20, `only ${ticks} ticks in ${r.seconds}s`);
  } finally {
    clearInterval(timer);
  }
});

test('abort: the worker stops, no partial and no output remain', async () => {
  await writeWavFile(file('abort.wav'), { seconds: 120, sampleRate: 16000, channels: 2 });
  const controller = new AbortController();
  const running = convertWavToMp3(file('abort.wav'), file('abort.mp3'), { signal: controller.signal });
  setTimeout(() => controller.abort(), 300);
  await expectConvertError(running, 'aborted');
  assert.not.ok(await exists(file('abort.mp3')));
  assert.not.ok(await exists(file('abort.mp3.partial')));
});

test('the MP3 appears only when complete (never half-written at outPath)', async () => {
  await writeWavFile(file('watch.wav'), { seconds: 30, sampleRate: 16000, channels: 1 });
  let sawPartial = false;
  const sightings: number[] = [];
  let done = false;
  const running = convertWavToMp3(file('watch.wav'), file('watch.mp3')).finally(() => (done = true));
  while (!done) {
    if (await exists(file('watch.mp3.partial'))) sawPartial = true;
    const size = await stat(file('watch.mp3')).then((s) => s.size, () => -1);
    if (size >= 0) sightings.push(size);
    await new Promise((r) => setTimeout(r, 5));
  }
  const r = await running;
  assert.ok(sawPartial, 'the encoder wrote to the .partial path');
  for (const size of sightings) assert.is(size, r.bytes, 'whenever outPath existed it was complete');
  assert.is((await stat(file('watch.mp3'))).size, r.bytes);
});

test('parallel conversions all succeed', async () => {
  await writeWavFile(file('p.wav'), { seconds: 5, sampleRate: 8000 });
  const results = await Promise.all([0, 1, 2, 3, 4].map((i) => convertWavToMp3(file('p.wav'), file(`p${i}.mp3`))));
  const sizes = new Set(results.map((r) => r.bytes));
  assert.is(sizes.size, 1, 'same input, same output');
  for (const r of results) assert.is(r.durationSeconds, 5);
});

test.run();

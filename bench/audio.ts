import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { convertWavToMp3 } from '../src/audio/convert.ts';
import { downloadToFile } from '../src/net/safeDownload.ts';
import { writeWavFile } from '../test/fakes/audioFiles.ts';
import { startRecordingServer } from '../test/fakes/recordingServer.ts';

/**
 * Audio figures: WAV → MP3 speed (realtime factor = seconds of audio per second of wall time) and compression
 * ratio, and the extra memory a 500 MB recording costs while downloadToFile streams it (target < 64 MB).
 */

const MB = 1024 * 1024;
const fmt = (n: number, digits = 1) => n.toFixed(digits);

async function benchConversion(dir: string): Promise<void> {
  const cases = [
    { name: '60 s 8 kHz mono 16-bit', wav: { seconds: 60, sampleRate: 8000, channels: 1 }, convert: { bitrateKbps: 32 } },
    { name: '60 s 16 kHz stereo 16-bit → mono', wav: { seconds: 60, sampleRate: 16000, channels: 2 }, convert: { bitrateKbps: 32 } },
    { name: '60 s 16 kHz stereo 16-bit → stereo', wav: { seconds: 60, sampleRate: 16000, channels: 2 }, convert: { bitrateKbps: 48, mono: false } },
  ];
  console.log('WAV → MP3 (@breezystack/lamejs in a worker thread; warm thread, 1 run each)');
  // start the encoder thread and JIT once so the figures show steady-state speed
  await writeWavFile(join(dir, 'warm.wav'), { seconds: 5, sampleRate: 8000, channels: 1 });
  await convertWavToMp3(join(dir, 'warm.wav'), join(dir, 'warm.mp3'));
  for (const c of cases) {
    const inPath = join(dir, 'in.wav');
    const outPath = join(dir, 'out.mp3');
    await writeWavFile(inPath, c.wav);
    const r = await convertWavToMp3(inPath, outPath, c.convert);
    console.log(
      `  ${c.name.padEnd(36)} ${fmt(r.inputBytes / MB, 2)} MB → ${fmt(r.bytes / 1024, 0)} KB at ${c.convert.bitrateKbps} kbit/s` +
        `  in ${fmt(r.seconds, 2)} s  realtime ×${fmt(r.durationSeconds / r.seconds)}  ratio ${fmt(r.ratio)}:1`,
    );
    await rm(inPath);
    await rm(outPath);
  }
}

async function benchDownloadMemory(dir: string): Promise<void> {
  const bytes = 500 * MB;
  const server = await startRecordingServer();
  try {
    // warm up the code paths (and the generator's one-second block) so the idle figure is honest
    const warm = await downloadToFile({
      url: `${server.url}/big.wav?bytes=${4 * MB}`,
      allowedHosts: ['127.0.0.1'],
      allowedAddresses: ['127.0.0.1'],
      timeoutMs: 30_000,
      maxBytes: 8 * MB,
      destDir: dir,
    });
    if (warm.ok) await rm(warm.path);
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 200));

    const idle = process.memoryUsage().rss;
    let peak = idle;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 10);
    const started = performance.now();
    const result = await downloadToFile({
      url: `${server.url}/big.wav?bytes=${bytes}`,
      allowedHosts: ['127.0.0.1'],
      allowedAddresses: ['127.0.0.1'],
      timeoutMs: 300_000,
      maxBytes: 600 * MB,
      destDir: dir,
    });
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    if (!result.ok) {
      console.log(`  500 MB download failed: ${result.error.code}: ${result.error.message}`);
      return;
    }
    await rm(result.path);
    const delta = (peak - idle) / MB;
    console.log('Streaming download of a 500 MB WAV (fixture server in the same process)');
    console.log(`  ${fmt(result.bytes / MB, 0)} MB in ${fmt(seconds, 2)} s (${fmt(result.bytes / MB / seconds, 0)} MB/s), sha256 ${result.sha256.slice(0, 16)}…`);
    console.log(`  RSS idle ${fmt(idle / MB)} MB, peak ${fmt(peak / MB)} MB, delta ${fmt(delta)} MB  (target < 64 MB: ${delta < 64 ? 'ok' : 'MISSED'})`);
  } finally {
    await server.close();
  }
}

export async function benchAudio(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'callrec-bench-audio-'));
  try {
    await benchConversion(dir);
    await benchDownloadMemory(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchAudio();
}

import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Mp3Encoder } from '@breezystack/lamejs';

/**
 * Generated audio for tests and benchmarks: deterministic PCM WAV (two tones with a tremolo plus noise, so an
 * MP3 encoder has real work to do) of any size, as a file or as a constant-memory stream, and small MP3s.
 *
 * The signal repeats every second exactly (integer-Hz tones, seeded noise), so one second of samples is computed
 * once and streamed over and over: a 500 MB WAV costs one block of memory.
 */

export interface WavFormat {
  sampleRate?: number; // default 8000
  channels?: number; // default 1
  bitsPerSample?: 8 | 16 | 24 | 32; // default 16 (integer PCM)
}

export interface WavHeaderOptions extends WavFormat {
  /** bytes of audio after the header */
  dataBytes: number;
  /** WAVE format tag; default 1 (PCM). Use another value to fake an unsupported codec. */
  formatTag?: number;
}

/** A canonical 44-byte PCM WAV header. */
export function wavHeader(opts: WavHeaderOptions): Buffer {
  const sampleRate = opts.sampleRate ?? 8000;
  const channels = opts.channels ?? 1;
  const bits = opts.bitsPerSample ?? 16;
  const blockAlign = channels * (bits / 8);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(Math.min(0xffffffff, 36 + opts.dataBytes), 4);
  h.write('WAVE', 8, 'latin1');
  h.write('fmt ', 12, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(opts.formatTag ?? 1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * blockAlign, 28);
  h.writeUInt16LE(blockAlign, 32);
  h.writeUInt16LE(bits, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(Math.min(0xffffffff, opts.dataBytes), 40);
  return h;
}

function formatOf(opts: WavFormat): Required<WavFormat> & { blockAlign: number } {
  const sampleRate = opts.sampleRate ?? 8000;
  const channels = opts.channels ?? 1;
  const bitsPerSample = opts.bitsPerSample ?? 16;
  return { sampleRate, channels, bitsPerSample, blockAlign: channels * (bitsPerSample / 8) };
}

/** One second of the test signal as 16-bit samples per channel (cached). */
const secondCache = new Map<string, Int16Array[]>();
export function oneSecondOfSamples(sampleRate: number, channels: number): Int16Array[] {
  const key = `${sampleRate}/${channels}`;
  const cached = secondCache.get(key);
  if (cached) return cached;
  let seed = 0x2545f491;
  const noise = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return ((seed >>> 0) / 0xffffffff) * 2 - 1;
  };
  const out: Int16Array[] = [];
  for (let c = 0; c < channels; c++) {
    const s = new Int16Array(sampleRate);
    const f1 = 440 + 110 * c;
    const f2 = 1250 + 50 * c;
    for (let i = 0; i < sampleRate; i++) {
      const t = i / sampleRate;
      const tremolo = 0.6 + 0.4 * Math.sin(2 * Math.PI * 3 * t);
      const v = tremolo * (0.45 * Math.sin(2 * Math.PI * f1 * t) + 0.25 * Math.sin(2 * Math.PI * f2 * t)) + 0.08 * noise();
      s[i] = Math.max(-32768, Math.min(32767, Math.round(v * 32767)));
    }
    out.push(s);
  }
  secondCache.set(key, out);
  return out;
}

/** One second of the test signal as interleaved little-endian PCM bytes in the requested format (cached). */
const blockCache = new Map<string, Buffer>();
function oneSecondOfPcm(f: ReturnType<typeof formatOf>): Buffer {
  const key = `${f.sampleRate}/${f.channels}/${f.bitsPerSample}`;
  const cached = blockCache.get(key);
  if (cached) return cached;
  const samples = oneSecondOfSamples(f.sampleRate, f.channels);
  const bytesPerSample = f.bitsPerSample / 8;
  const buf = Buffer.alloc(f.sampleRate * f.blockAlign);
  for (let i = 0; i < f.sampleRate; i++) {
    for (let c = 0; c < f.channels; c++) {
      const v = samples[c]![i]!;
      const at = i * f.blockAlign + c * bytesPerSample;
      if (bytesPerSample === 1) buf[at] = (v >> 8) + 128;
      else if (bytesPerSample === 2) buf.writeInt16LE(v, at);
      else if (bytesPerSample === 3) buf.writeIntLE(v * 256, at, 3);
      else buf.writeInt32LE(v * 65536, at);
    }
  }
  blockCache.set(key, buf);
  return buf;
}

export interface WavStreamOptions extends WavFormat {
  /** length in seconds of audio … */
  seconds?: number;
  /** … or total size in bytes including the 44-byte header (rounded down to whole sample frames) */
  bytes?: number;
  /** declare this many data bytes in the header instead of the real count (to fake a truncated file) */
  declaredDataBytes?: number;
}

/** Data bytes a WAV of these options carries. */
export function wavDataBytes(opts: WavStreamOptions): number {
  const f = formatOf(opts);
  if (opts.bytes !== undefined) return Math.max(0, Math.floor((opts.bytes - 44) / f.blockAlign) * f.blockAlign);
  return Math.round((opts.seconds ?? 1) * f.sampleRate) * f.blockAlign;
}

/** Total bytes (header + data) of a WAV of these options. */
export function wavTotalBytes(opts: WavStreamOptions): number {
  return 44 + wavDataBytes(opts);
}

/** A WAV of any size generated on the fly, in constant memory, honouring back-pressure. */
export function wavStream(opts: WavStreamOptions): Readable {
  const f = formatOf(opts);
  const dataBytes = wavDataBytes(opts);
  const block = oneSecondOfPcm(f);
  let headerSent = false;
  let remaining = dataBytes;
  let pos = 0;
  return new Readable({
    highWaterMark: 64 * 1024,
    read(size) {
      if (!headerSent) {
        headerSent = true;
        this.push(wavHeader({ ...f, dataBytes: opts.declaredDataBytes ?? dataBytes }));
      }
      let budget = Math.max(size, 16 * 1024);
      while (budget > 0 && remaining > 0) {
        const n = Math.min(budget, remaining, block.length - pos);
        const more = this.push(block.subarray(pos, pos + n));
        pos = (pos + n) % block.length;
        remaining -= n;
        budget -= n;
        if (!more) break;
      }
      if (remaining === 0) this.push(null);
    },
  });
}

/** Write a generated WAV file; returns its size in bytes. */
export async function writeWavFile(path: string, opts: WavStreamOptions): Promise<number> {
  await pipeline(wavStream(opts), createWriteStream(path));
  return wavTotalBytes(opts);
}

export interface Mp3Options {
  seconds: number;
  sampleRate?: number; // default 8000
  channels?: 1 | 2; // default 1
  kbps?: number; // default 32
}

/** Encode the test signal to MP3 in memory (lamejs, synchronous: keep it to short clips). */
export function mp3Bytes(opts: Mp3Options): Buffer {
  const sampleRate = opts.sampleRate ?? 8000;
  const channels = opts.channels ?? 1;
  const encoder = new Mp3Encoder(channels, sampleRate, opts.kbps ?? 32);
  const second = oneSecondOfSamples(sampleRate, channels);
  const total = Math.round(opts.seconds * sampleRate);
  const parts: Buffer[] = [];
  const frame = 1152;
  const left = new Int16Array(frame);
  const right = new Int16Array(frame);
  for (let done = 0; done < total; ) {
    const n = Math.min(frame, total - done);
    for (let i = 0; i < n; i++) {
      const at = (done + i) % sampleRate;
      left[i] = second[0]![at]!;
      if (channels === 2) right[i] = second[1]![at]!;
    }
    const out = encoder.encodeBuffer(left.subarray(0, n), channels === 2 ? right.subarray(0, n) : undefined);
    if (out.length) parts.push(Buffer.from(out.buffer, out.byteOffset, out.byteLength));
    done += n;
  }
  const tail = encoder.flush();
  if (tail.length) parts.push(Buffer.from(tail.buffer, tail.byteOffset, tail.byteLength));
  return Buffer.concat(parts);
}

/** Write a generated MP3 file; returns its size in bytes. */
export async function writeMp3File(path: string, opts: Mp3Options): Promise<number> {
  const bytes = mp3Bytes(opts);
  await writeFile(path, bytes);
  return bytes.length;
}

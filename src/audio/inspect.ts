import { open, stat } from 'node:fs/promises';
import { parseFile, type IAudioMetadata } from 'music-metadata';
import { scanMpegFrames, type MpegScan } from './mpeg.ts';
import { sniffAudio } from './sniff.ts';
import { readWavInfo, WAVE_FORMAT, type WavInfo } from './wav.ts';
import type { Result } from '../result.ts';

/**
 * Validate a downloaded recording before it is stored: is it audio at all (not an HTML/JSON error page),
 * complete (not cut short), in a codec a browser can play, and longer than zero seconds?
 * Magic bytes decide the container first; music-metadata then reads codec, rate, channels and duration.
 */

export type AudioFormat = 'wav' | 'mp3' | 'ogg' | 'flac' | 'm4a' | 'webm' | 'aac';

export type InspectErrorCode = 'empty' | 'html' | 'not_audio' | 'truncated' | 'unsupported_codec' | 'zero_duration' | 'unreadable';

export interface AudioInfo {
  ok: true;
  format: AudioFormat;
  /** as music-metadata names it, e.g. `PCM`, `MPEG 2.5 Layer 3`, `Opus` */
  codec: string;
  sampleRate: number;
  channels: number;
  durationSeconds: number;
  /** file size */
  bytes: number;
  contentType: string;
  ext: string;
  /** PCM sample width (WAV) */
  bitsPerSample?: number;
  /** bits per second, when known */
  bitrate?: number;
}

export type InspectResult = Result<AudioInfo, { error: { code: InspectErrorCode; message: string } }>;

const formats: Record<AudioFormat, { contentType: string; ext: string; codecs: RegExp }> = {
  wav: { contentType: 'audio/wav', ext: 'wav', codecs: /^(PCM|IEEE float|A-law|mu-law)$/ },
  mp3: { contentType: 'audio/mpeg', ext: 'mp3', codecs: /Layer 3$/ },
  ogg: { contentType: 'audio/ogg', ext: 'ogg', codecs: /opus|vorbis|flac/i },
  flac: { contentType: 'audio/flac', ext: 'flac', codecs: /flac/i },
  m4a: { contentType: 'audio/mp4', ext: 'm4a', codecs: /aac|alac/i },
  webm: { contentType: 'audio/webm', ext: 'webm', codecs: /opus|vorbis/i },
  aac: { contentType: 'audio/aac', ext: 'aac', codecs: /aac/i },
};

const HEAD_BYTES = 64 * 1024;

const failure = (code: InspectErrorCode, message: string): InspectResult => ({ ok: false, error: { code, message } });

export async function inspectAudioFile(path: string): Promise<InspectResult> {
  let bytes: number;
  let head: Buffer;
  try {
    const st = await stat(path);
    if (!st.isFile()) return failure('unreadable', 'Not a regular file');
    bytes = st.size;
    if (bytes === 0) return failure('empty', 'The file is empty');
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(Math.min(HEAD_BYTES, bytes));
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      head = buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch (err) {
    return failure('unreadable', `Cannot read the file: ${(err as Error).message}`);
  }

  const sniffed = sniffAudio(head, bytes);
  switch (sniffed.kind) {
    case 'html':
      return failure('html', 'The file is an HTML/XML page, not audio (an error or login page served instead of the recording)');
    case 'json':
      return failure('not_audio', 'The file is JSON, not audio (an API error served instead of the recording)');
    case 'text':
      return failure('not_audio', 'The file is text, not audio');
    case 'unknown':
      return failure('not_audio', 'The file is not in a recognised audio format');
    case 'aiff':
      return failure('unsupported_codec', 'AIFF recordings are not supported');
  }
  const format: AudioFormat = sniffed.kind;

  let wav: WavInfo | undefined;
  let scan: MpegScan | undefined;
  try {
    if (format === 'wav') {
      const read = await readWavInfo(path);
      if (!read.ok) return failure(read.code === 'truncated' ? 'truncated' : 'not_audio', `Invalid WAV: ${read.message}`);
      wav = read.info;
      if (wav.truncated) {
        return failure('truncated', `The WAV data chunk declares ${wav.dataBytes} bytes but only ${wav.availableDataBytes} are present`);
      }
      if (!formats.wav.codecs.test(wav.codec)) return failure('unsupported_codec', `WAV codec ${wav.codec} is not supported`);
      if (wav.channels === 0 || wav.sampleRate === 0 || wav.blockAlign === 0) return failure('not_audio', 'The WAV header has no channels or sample rate');
      if (wav.formatTag === WAVE_FORMAT.PCM && ![8, 16, 24, 32].includes(wav.bitsPerSample)) {
        return failure('unsupported_codec', `${wav.bitsPerSample}-bit PCM is not supported`);
      }
      if (wav.durationSeconds <= 0) return failure('zero_duration', 'The WAV file holds no samples');
    } else if (format === 'mp3') {
      if (sniffed.tagBeyondEnd) return failure('truncated', 'The file ends inside its ID3 tag');
      scan = await scanMpegFrames(path, sniffed.firstFrame ?? 0);
      if (scan.lastFrameCut) return failure('truncated', `The MP3 ends inside a frame (after ${scan.frames} complete frames)`);
      if (scan.frames === 0) return failure('zero_duration', 'The MP3 holds no audio frames');
    }
  } catch (err) {
    return failure('unreadable', `Cannot read the file: ${(err as Error).message}`);
  }

  let meta: IAudioMetadata;
  try {
    meta = await parseFile(path, { duration: true, skipCovers: true });
  } catch (err) {
    const message = (err as Error).message ?? String(err);
    if (/end-of-stream|end of stream|eof/i.test(message)) return failure('truncated', `The ${format} file ends early: ${message}`);
    return failure('unreadable', `The ${format} file cannot be parsed: ${message}`);
  }
  const f = meta.format;
  const codec = f.codec ?? wav?.codec ?? 'unknown';
  if (f.hasVideo) return failure('unsupported_codec', 'The file contains video');
  if (!formats[format].codecs.test(codec)) return failure('unsupported_codec', `Codec ${codec} in ${format} is not supported`);

  const durationSeconds = wav?.durationSeconds ?? f.duration ?? scan?.durationSeconds ?? 0;
  if (!(durationSeconds > 0) || !Number.isFinite(durationSeconds)) return failure('zero_duration', 'The recording has no duration');
  const sampleRate = f.sampleRate ?? wav?.sampleRate ?? 0;
  const channels = f.numberOfChannels ?? wav?.channels ?? 0;
  if (!sampleRate || !channels) return failure('not_audio', 'No audio track found');

  return {
    ok: true,
    format,
    codec,
    sampleRate,
    channels,
    durationSeconds,
    bytes,
    contentType: formats[format].contentType,
    ext: formats[format].ext,
    ...(wav ? { bitsPerSample: wav.bitsPerSample } : {}),
    ...(f.bitrate ? { bitrate: Math.round(f.bitrate) } : {}),
  };
}

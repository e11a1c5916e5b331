import { rename, rm, stat } from 'node:fs/promises';
import { runMp3Job, type PoolFailure } from './mp3WorkerPool.ts';
import { isDecodable } from './pcm.ts';
import { readWavInfo } from './wav.ts';

/**
 * WAV → MP3 with lamejs in a worker thread (see mp3WorkerPool.ts). The WAV is read in slices (bounded memory
 * whatever its size), the MP3 is written to `outPath + '.partial'` and renamed into place only when complete, so
 * a half-written MP3 is never visible at `outPath`. Conversions beyond the number of CPUs wait their turn.
 */

export { closeMp3Workers } from './mp3WorkerPool.ts';

export interface ConvertOptions {
  /** constant bitrate, default 32 (plenty for speech) */
  bitrateKbps?: number;
  /** downmix to one channel, default true */
  mono?: boolean;
  /** abort: the worker is terminated and the partial file removed */
  signal?: AbortSignal;
}

export interface ConvertResult {
  /** size of the MP3 */
  bytes: number;
  /** size of the WAV */
  inputBytes: number;
  /** inputBytes / bytes */
  ratio: number;
  /** wall-clock seconds the conversion took (from leaving the queue, thread start-up included) */
  seconds: number;
  /** seconds of audio converted */
  durationSeconds: number;
  /** MP3 sample rate (lame may choose a lower one than the input for low bitrates) */
  sampleRate: number;
  channels: 1 | 2;
}

export type ConvertErrorCode =
  | 'not_wav'
  | 'truncated'
  | 'unsupported_format'
  | 'unsupported_sample_rate'
  | 'invalid_options'
  | 'io_error'
  | 'encoder_error'
  | 'aborted';

export class AudioConvertError extends Error {
  readonly code: ConvertErrorCode;
  constructor(code: ConvertErrorCode, message: string) {
    super(message);
    this.name = 'AudioConvertError';
    this.code = code;
  }
}

/** Sample rates an MPEG-1/2/2.5 Layer III stream can carry; the encoder is fed the input rate unchanged. */
export const MP3_SAMPLE_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000] as const;

export async function convertWavToMp3(inPath: string, outPath: string, opts: ConvertOptions = {}): Promise<ConvertResult> {
  const bitrateKbps = opts.bitrateKbps ?? 32;
  const mono = opts.mono ?? true;
  if (!Number.isInteger(bitrateKbps) || bitrateKbps < 8 || bitrateKbps > 320) {
    throw new AudioConvertError('invalid_options', `bitrateKbps must be an integer from 8 to 320, got ${bitrateKbps}`);
  }
  if (opts.signal?.aborted) throw new AudioConvertError('aborted', 'The conversion was aborted');

  let read;
  let inputBytes: number;
  try {
    inputBytes = (await stat(inPath)).size;
    read = await readWavInfo(inPath);
  } catch (err) {
    throw new AudioConvertError('io_error', `Cannot read ${inPath}: ${(err as Error).message}`);
  }
  if (!read.ok) throw new AudioConvertError(read.code === 'truncated' ? 'truncated' : 'not_wav', read.message);
  const info = read.info;
  if (info.truncated) {
    throw new AudioConvertError('truncated', `The data chunk declares ${info.dataBytes} bytes but only ${info.availableDataBytes} are present`);
  }
  const undecodable = isDecodable(info);
  if (undecodable) throw new AudioConvertError('unsupported_format', undecodable);
  if (!(MP3_SAMPLE_RATES as readonly number[]).includes(info.sampleRate)) {
    throw new AudioConvertError(
      'unsupported_sample_rate',
      `MP3 cannot carry ${info.sampleRate} Hz and callrec does not resample; supported: ${MP3_SAMPLE_RATES.join(', ')}`,
    );
  }
  if (!mono && info.channels > 2) {
    throw new AudioConvertError('unsupported_format', `${info.channels} channels can only be converted with mono: true`);
  }
  const outputChannels: 1 | 2 = mono || info.channels === 1 ? 1 : 2;
  const dataBytes = Math.floor(info.availableDataBytes / info.blockAlign) * info.blockAlign;

  const partialPath = `${outPath}.partial`;
  let started = performance.now();
  try {
    const reply = await runMp3Job(
      {
        inPath,
        partialPath,
        layout: { formatTag: info.formatTag, bitsPerSample: info.bitsPerSample, channels: info.channels, blockAlign: info.blockAlign },
        sampleRate: info.sampleRate,
        dataOffset: info.dataOffset,
        dataBytes,
        bitrateKbps,
        outputChannels,
      },
      opts.signal,
      () => (started = performance.now()),
    );
    if (!reply.ok) throw new AudioConvertError(reply.code, reply.message);
    await rename(partialPath, outPath);
    const seconds = (performance.now() - started) / 1000;
    return {
      bytes: reply.bytes,
      inputBytes,
      ratio: reply.bytes > 0 ? inputBytes / reply.bytes : 0,
      seconds,
      durationSeconds: reply.frames / info.sampleRate,
      sampleRate: reply.outputSampleRate,
      channels: outputChannels,
    };
  } catch (err) {
    await rm(partialPath, { force: true }).catch(() => undefined);
    if (err instanceof AudioConvertError) throw err;
    const failure = err as PoolFailure;
    if (failure?.kind === 'aborted') throw new AudioConvertError('aborted', 'The conversion was aborted');
    if (failure?.kind === 'crashed') throw new AudioConvertError('encoder_error', `MP3 worker failed: ${failure.message}`);
    throw new AudioConvertError('io_error', (err as Error).message);
  }
}

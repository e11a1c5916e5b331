import { rename, rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Mp3WorkerJob, Mp3WorkerReply } from './mp3Worker.ts';
import { isDecodable } from './pcm.ts';
import { readWavInfo } from './wav.ts';

/**
 * WAV → MP3 with lamejs in a worker thread. The WAV is read in slices (bounded memory whatever its size), the
 * MP3 is written to `outPath + '.partial'` and renamed into place only when complete, so a half-written MP3 is
 * never visible at `outPath`. Conversions beyond the number of CPUs wait their turn.
 */

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
  /** wall-clock seconds the conversion took */
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

const maxWorkers = Math.max(1, availableParallelism());
let running = 0;
const waiting: Array<() => void> = [];

async function acquireSlot(signal?: AbortSignal): Promise<void> {
  if (running < maxWorkers) {
    running++;
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const grant = () => {
      signal?.removeEventListener('abort', onAbort);
      running++;
      resolve();
    };
    const onAbort = () => {
      const i = waiting.indexOf(grant);
      if (i >= 0) waiting.splice(i, 1);
      reject(new AudioConvertError('aborted', 'The conversion was aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    waiting.push(grant);
  });
}

function releaseSlot(): void {
  running--;
  waiting.shift()?.();
}

const runningFromTypeScript = import.meta.url.endsWith('.ts');
const workerUrl = new URL(runningFromTypeScript ? './mp3Worker.ts' : './mp3Worker.js', import.meta.url);

/**
 * Module hooks registered in the main thread (tsx) do not reach worker threads on Node 20, so when callrec runs
 * from TypeScript the worker first registers tsx and then imports the worker module.
 */
function spawnWorker(job: Mp3WorkerJob): Worker {
  if (!runningFromTypeScript) return new Worker(workerUrl, { workerData: job });
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(workerUrl.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: job });
}

function runWorker(job: Mp3WorkerJob, signal?: AbortSignal): Promise<Mp3WorkerReply> {
  return new Promise((resolve, reject) => {
    const worker = spawnWorker(job);
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    let aborting = false;
    // Settled by the 'exit' event, once the thread has stopped and can no longer touch the partial file.
    const onAbort = () => {
      aborting = true;
      void worker.terminate();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (reply: Mp3WorkerReply) => {
      if (!aborting) settle(() => resolve(reply));
    });
    worker.once('error', (err) => {
      if (!aborting) settle(() => reject(new AudioConvertError('encoder_error', `MP3 worker failed: ${err.message}`)));
    });
    worker.once('exit', (code) =>
      settle(() =>
        reject(
          aborting
            ? new AudioConvertError('aborted', 'The conversion was aborted')
            : new AudioConvertError('encoder_error', `MP3 worker exited with code ${code} before answering`),
        ),
      ),
    );
  });
}

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
  await acquireSlot(opts.signal);
  const started = performance.now();
  try {
    const reply = await runWorker(
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
    throw new AudioConvertError('io_error', (err as Error).message);
  } finally {
    releaseSlot();
  }
}

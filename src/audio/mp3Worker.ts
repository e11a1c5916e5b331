import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { parentPort } from 'node:worker_threads';
import { Mp3Encoder } from '@breezystack/lamejs';
import { parseMpegFrameHeader } from './mpeg.ts';
import { createFrameDecoder, type PcmLayout } from './pcm.ts';
import type { Result } from '../result.ts';

/**
 * Worker thread body of convertWavToMp3: reads the WAV data chunk in slices, encodes with lamejs and writes
 * the MP3 to the `.partial` path. Runs off the main thread because encoding is CPU-bound (~20–40× realtime).
 */

export interface Mp3WorkerJob {
  inPath: string;
  partialPath: string;
  layout: PcmLayout;
  sampleRate: number;
  dataOffset: number;
  dataBytes: number;
  bitrateKbps: number;
  outputChannels: 1 | 2;
}

export type Mp3WorkerReply = Result<{ bytes: number; frames: number; outputSampleRate: number }, { code: 'io_error' | 'encoder_error'; message: string }>;

/** Sample frames per read: a multiple of the MP3 frame size, ~36k frames (72 KB of 16-bit mono). */
const FRAMES_PER_READ = 1152 * 32;

async function run(job: Mp3WorkerJob): Promise<Mp3WorkerReply> {
  const { layout } = job;
  const encoder = new Mp3Encoder(job.outputChannels, job.sampleRate, job.bitrateKbps);
  const decoder = createFrameDecoder(layout, job.outputChannels);
  const left = new Int16Array(FRAMES_PER_READ + 1);
  const right = job.outputChannels === 2 ? new Int16Array(FRAMES_PER_READ + 1) : null;

  const out = createWriteStream(job.partialPath, { flags: 'w' });
  let outError: Error | null = null;
  out.on('error', (err) => (outError = err));
  let bytes = 0;
  let frames = 0;
  let outputSampleRate = 0;

  const write = async (chunk: Uint8Array) => {
    if (chunk.length === 0) return;
    if (outError) throw outError;
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (!outputSampleRate) outputSampleRate = parseMpegFrameHeader(buf, 0)?.sampleRate ?? 0;
    bytes += buf.length;
    if (!out.write(buf)) await once(out, 'drain');
  };

  try {
    if (job.dataBytes > 0) {
      const input = createReadStream(job.inPath, {
        start: job.dataOffset,
        end: job.dataOffset + job.dataBytes - 1,
        highWaterMark: FRAMES_PER_READ * layout.blockAlign,
      });
      let carry: Buffer | null = null;
      for await (const piece of input as AsyncIterable<Buffer>) {
        let buf: Buffer = carry ? Buffer.concat([carry, piece]) : piece;
        carry = null;
        while (buf.length >= layout.blockAlign) {
          const n = Math.min(FRAMES_PER_READ, Math.floor(buf.length / layout.blockAlign));
          decoder.decode(buf, n, left, right);
          frames += n;
          await write(encoder.encodeBuffer(left.subarray(0, n), right ? right.subarray(0, n) : undefined));
          buf = buf.subarray(n * layout.blockAlign);
        }
        if (buf.length > 0) carry = Buffer.from(buf);
      }
    }
    await write(encoder.flush());
    out.end();
    await finished(out);
    return { ok: true, bytes, frames, outputSampleRate };
  } catch (err) {
    out.destroy();
    const e = err as NodeJS.ErrnoException;
    return { ok: false, code: e.code ? 'io_error' : 'encoder_error', message: e.message ?? String(err) };
  }
}

// One job at a time: the pool only posts a job to an idle thread.
parentPort?.on('message', (msg: { id: number; job: Mp3WorkerJob }) => {
  run(msg.job).then(
    (reply) => parentPort!.postMessage({ id: msg.id, reply }),
    (err: unknown) =>
      parentPort!.postMessage({ id: msg.id, reply: { ok: false, code: 'encoder_error', message: String((err as Error)?.message ?? err) } satisfies Mp3WorkerReply }),
  );
});

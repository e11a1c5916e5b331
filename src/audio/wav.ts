import { open, type FileHandle } from 'node:fs/promises';
import type { Result } from '../result.ts';

/**
 * WAV (RIFF/RF64) header reading by positional reads: bounded memory whatever the size of the file or of the
 * chunks before `data` (LIST, bext, junk). Pure parsing of what is read; no audio data is loaded.
 */

export const WAVE_FORMAT = {
  PCM: 0x0001,
  IEEE_FLOAT: 0x0003,
  ALAW: 0x0006,
  MULAW: 0x0007,
  EXTENSIBLE: 0xfffe,
} as const;

const codecNames: Record<number, string> = {
  [WAVE_FORMAT.PCM]: 'PCM',
  [WAVE_FORMAT.IEEE_FLOAT]: 'IEEE float',
  [WAVE_FORMAT.ALAW]: 'A-law',
  [WAVE_FORMAT.MULAW]: 'mu-law',
  0x0002: 'Microsoft ADPCM',
  0x0011: 'IMA ADPCM',
  0x0031: 'GSM 6.10',
  0x0055: 'MPEG Layer 3',
};

export function wavCodecName(formatTag: number): string {
  return codecNames[formatTag] ?? `WAVE format 0x${formatTag.toString(16).padStart(4, '0')}`;
}

export interface WavInfo {
  /** the effective format tag (the sub-format for WAVE_FORMAT_EXTENSIBLE) */
  formatTag: number;
  codec: string;
  channels: number;
  sampleRate: number;
  byteRate: number;
  blockAlign: number;
  bitsPerSample: number;
  /** byte offset of the first sample */
  dataOffset: number;
  /** bytes of audio the header promises (the rest of the file when the header leaves it open) */
  dataBytes: number;
  /** bytes of audio actually present (≤ dataBytes when the file is cut short) */
  availableDataBytes: number;
  fileBytes: number;
  truncated: boolean;
  /** whole sample frames present / sample rate, for frame-based codecs (PCM, float, A-law, mu-law) */
  durationSeconds: number;
}

export type WavReadResult = Result<{ info: WavInfo }, { code: 'not_wav' | 'truncated' | 'invalid'; message: string }>;

const UNKNOWN_SIZE = 0xffffffff;

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  return buf.subarray(0, bytesRead);
}

/** Read the header of the WAV file at `path`. */
export async function readWavInfo(path: string): Promise<WavReadResult> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    return await readWavInfoFrom(fh, size);
  } finally {
    await fh.close();
  }
}

export async function readWavInfoFrom(fh: FileHandle, fileBytes: number): Promise<WavReadResult> {
  const riff = await readAt(fh, 0, 12);
  if (riff.length < 12) return { ok: false, code: 'truncated', message: 'The file ends inside the RIFF header' };
  const magic = riff.toString('latin1', 0, 4);
  if ((magic !== 'RIFF' && magic !== 'RF64') || riff.toString('latin1', 8, 12) !== 'WAVE') {
    return { ok: false, code: 'not_wav', message: 'No RIFF/WAVE header' };
  }

  let fmt: Buffer | null = null;
  let rf64DataBytes: number | null = null;
  let offset = 12;
  // A WAV file has a handful of chunks; the cap only stops a crafted file from looping for long.
  for (let n = 0; n < 10_000; n++) {
    const header = await readAt(fh, offset, 8);
    if (header.length < 8) {
      return { ok: false, code: 'truncated', message: fmt ? 'The file ends before the data chunk' : 'The file ends before the fmt chunk' };
    }
    const id = header.toString('latin1', 0, 4);
    const size = header.readUInt32LE(4);
    const body = offset + 8;

    if (id === 'ds64') {
      const ds = await readAt(fh, body, Math.min(size, 28));
      if (ds.length >= 16) rf64DataBytes = Number(ds.readBigUInt64LE(8));
    } else if (id === 'fmt ') {
      fmt = await readAt(fh, body, Math.min(size, 40));
      if (fmt.length < 16) return { ok: false, code: fmt.length < size ? 'truncated' : 'invalid', message: 'The fmt chunk is too short' };
    } else if (id === 'data') {
      if (!fmt) return { ok: false, code: 'invalid', message: 'The data chunk comes before the fmt chunk' };
      const available = Math.max(0, fileBytes - body);
      let declared = size;
      if (magic === 'RF64' && size === UNKNOWN_SIZE && rf64DataBytes !== null) declared = rf64DataBytes;
      else if (size === UNKNOWN_SIZE) declared = available; // streaming writers leave the size open
      return { ok: true, info: describe(fmt, body, declared, available, fileBytes) };
    }
    offset = body + size + (size & 1);
  }
  return { ok: false, code: 'invalid', message: 'Too many chunks before the data chunk' };
}

function describe(fmt: Buffer, dataOffset: number, declared: number, available: number, fileBytes: number): WavInfo {
  let formatTag = fmt.readUInt16LE(0);
  const channels = fmt.readUInt16LE(2);
  const sampleRate = fmt.readUInt32LE(4);
  const byteRate = fmt.readUInt32LE(8);
  const blockAlign = fmt.readUInt16LE(12);
  const bitsPerSample = fmt.readUInt16LE(14);
  if (formatTag === WAVE_FORMAT.EXTENSIBLE && fmt.length >= 26) {
    // WAVEFORMATEXTENSIBLE: the first two bytes of the sub-format GUID are the real format tag.
    formatTag = fmt.readUInt16LE(24);
  }
  const present = Math.min(declared, available);
  const frameBased =
    formatTag === WAVE_FORMAT.PCM || formatTag === WAVE_FORMAT.IEEE_FLOAT || formatTag === WAVE_FORMAT.ALAW || formatTag === WAVE_FORMAT.MULAW;
  const durationSeconds =
    frameBased && blockAlign > 0 && sampleRate > 0 ? Math.floor(present / blockAlign) / sampleRate : byteRate > 0 ? present / byteRate : 0;
  return {
    formatTag,
    codec: wavCodecName(formatTag),
    channels,
    sampleRate,
    byteRate,
    blockAlign,
    bitsPerSample,
    dataOffset,
    dataBytes: declared,
    availableDataBytes: present,
    fileBytes,
    truncated: declared > available,
    durationSeconds,
  };
}

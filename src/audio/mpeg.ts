import { open } from 'node:fs/promises';

/**
 * MPEG audio (MP1/MP2/MP3) frame headers: parsing, sniffing and a bounded-memory scan of a whole file that
 * tells whether the last frame was cut off.
 */

export interface MpegFrameHeader {
  version: '1' | '2' | '2.5';
  layer: 1 | 2 | 3;
  bitrateKbps: number;
  sampleRate: number;
  channels: 1 | 2;
  /** bytes of this frame including its header */
  frameBytes: number;
  samplesPerFrame: number;
}

const BITRATES = {
  v1l1: [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  v1l2: [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  v1l3: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  v2l1: [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  v2l23: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const SAMPLE_RATES: Record<MpegFrameHeader['version'], number[]> = {
  '1': [44100, 48000, 32000],
  '2': [22050, 24000, 16000],
  '2.5': [11025, 12000, 8000],
};

/** Parse the 4-byte frame header at `at`; null when it is not a valid (non free-format) header. */
export function parseMpegFrameHeader(buf: Uint8Array, at = 0): MpegFrameHeader | null {
  if (at + 4 > buf.length) return null;
  const b0 = buf[at]!;
  const b1 = buf[at + 1]!;
  const b2 = buf[at + 2]!;
  const b3 = buf[at + 3]!;
  if (b0 !== 0xff || (b1 & 0xe0) !== 0xe0) return null;
  const versionBits = (b1 >> 3) & 3;
  const layerBits = (b1 >> 1) & 3;
  const bitrateIndex = b2 >> 4;
  const rateIndex = (b2 >> 2) & 3;
  if (versionBits === 1 || layerBits === 0 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return null;
  const version: MpegFrameHeader['version'] = versionBits === 3 ? '1' : versionBits === 2 ? '2' : '2.5';
  const layer = (4 - layerBits) as 1 | 2 | 3;
  const table =
    version === '1' ? (layer === 1 ? BITRATES.v1l1 : layer === 2 ? BITRATES.v1l2 : BITRATES.v1l3) : layer === 1 ? BITRATES.v2l1 : BITRATES.v2l23;
  const bitrateKbps = table[bitrateIndex]!;
  const sampleRate = SAMPLE_RATES[version][rateIndex]!;
  const padding = (b2 >> 1) & 1;
  const channels = b3 >> 6 === 3 ? 1 : 2;
  let frameBytes: number;
  let samplesPerFrame: number;
  if (layer === 1) {
    frameBytes = (Math.floor((12 * bitrateKbps * 1000) / sampleRate) + padding) * 4;
    samplesPerFrame = 384;
  } else if (layer === 2 || version === '1') {
    frameBytes = Math.floor((144 * bitrateKbps * 1000) / sampleRate) + padding;
    samplesPerFrame = 1152;
  } else {
    frameBytes = Math.floor((72 * bitrateKbps * 1000) / sampleRate) + padding;
    samplesPerFrame = 576;
  }
  return { version, layer, bitrateKbps, sampleRate, channels, frameBytes, samplesPerFrame };
}

/** Size of an ID3v2 tag at the start of `buf` (header + body + footer), or 0 when there is none. */
export function id3v2Size(buf: Uint8Array): number {
  if (buf.length < 10 || buf[0] !== 0x49 || buf[1] !== 0x44 || buf[2] !== 0x33) return 0; // "ID3"
  const flags = buf[5]!;
  const size = ((buf[6]! & 0x7f) << 21) | ((buf[7]! & 0x7f) << 14) | ((buf[8]! & 0x7f) << 7) | (buf[9]! & 0x7f);
  return 10 + size + (flags & 0x10 ? 10 : 0);
}

/**
 * Find the first frame in `buf` from `from` that is followed by another valid frame of the same version and
 * layer (or that ends exactly at the end of `buf` when `buf` is the whole file). Searches at most `window` bytes.
 */
export function findMpegSync(buf: Uint8Array, from: number, window: number, bufIsWholeFile: boolean): { offset: number; header: MpegFrameHeader } | null {
  const end = Math.min(buf.length - 4, from + window);
  for (let i = from; i <= end; i++) {
    if (buf[i] !== 0xff) continue;
    const h = parseMpegFrameHeader(buf, i);
    if (!h) continue;
    const next = i + h.frameBytes;
    if (next + 4 <= buf.length) {
      const h2 = parseMpegFrameHeader(buf, next);
      if (h2 && h2.version === h.version && h2.layer === h.layer) return { offset: i, header: h };
    } else if (bufIsWholeFile && next === buf.length) {
      return { offset: i, header: h };
    } else if (!bufIsWholeFile && next > buf.length) {
      // the next header lies beyond what was read; accept a single plausible header
      return { offset: i, header: h };
    }
  }
  return null;
}

export interface MpegScan {
  frames: number;
  samples: number;
  /** seconds of audio in complete frames */
  durationSeconds: number;
  /** the file ends inside a frame */
  lastFrameCut: boolean;
  /** bytes after the last frame that are not frames (ID3v1/APE tags or junk) */
  trailingBytes: number;
}

/**
 * Walk every frame of an MPEG audio file from `firstFrame` (reading 256 KB blocks, so memory stays bounded).
 * Stops at the first byte that is not a frame header.
 */
export async function scanMpegFrames(path: string, firstFrame: number): Promise<MpegScan> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const blockSize = 256 * 1024;
    let block = Buffer.alloc(0);
    let blockStart = 0;
    const ensure = async (pos: number, n: number): Promise<boolean> => {
      if (pos >= blockStart && pos + n <= blockStart + block.length) return true;
      const buf = Buffer.alloc(Math.max(blockSize, n));
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      block = buf.subarray(0, bytesRead);
      blockStart = pos;
      return bytesRead >= n;
    };
    let pos = firstFrame;
    let frames = 0;
    let samples = 0;
    let sampleRate = 0;
    let lastFrameCut = false;
    while (pos + 4 <= size) {
      if (!(await ensure(pos, 4))) break;
      const h = parseMpegFrameHeader(block, pos - blockStart);
      if (!h) break;
      if (pos + h.frameBytes > size) {
        lastFrameCut = true;
        break;
      }
      frames++;
      samples += h.samplesPerFrame;
      sampleRate = h.sampleRate;
      pos += h.frameBytes;
    }
    const trailingBytes = lastFrameCut ? 0 : size - pos;
    return { frames, samples, durationSeconds: sampleRate ? samples / sampleRate : 0, lastFrameCut, trailingBytes };
  } finally {
    await fh.close();
  }
}

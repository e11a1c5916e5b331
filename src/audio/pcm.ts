import { WAVE_FORMAT } from './wav.ts';

/**
 * Decoding of interleaved WAV sample frames into 16-bit channel arrays for the MP3 encoder, with an optional
 * downmix to mono. Pure functions over buffers; the caller owns (and reuses) the output arrays.
 */

export interface PcmLayout {
  formatTag: number;
  bitsPerSample: number;
  channels: number;
  blockAlign: number;
}

export function isDecodable(layout: PcmLayout): string | null {
  const { formatTag, bitsPerSample, channels } = layout;
  if (channels < 1) return 'no channels';
  if (formatTag === WAVE_FORMAT.PCM && [8, 16, 24, 32].includes(bitsPerSample)) return null;
  if (formatTag === WAVE_FORMAT.IEEE_FLOAT && (bitsPerSample === 32 || bitsPerSample === 64)) return null;
  if ((formatTag === WAVE_FORMAT.ALAW || formatTag === WAVE_FORMAT.MULAW) && bitsPerSample === 8) return null;
  return `WAVE format 0x${formatTag.toString(16)} with ${bitsPerSample}-bit samples cannot be decoded`;
}

function mulawToPcm(u: number): number {
  u = ~u & 0xff;
  const sign = u & 0x80;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  return sign ? -magnitude : magnitude;
}

function alawToPcm(a: number): number {
  a ^= 0x55;
  const sign = a & 0x80;
  const exponent = (a >> 4) & 0x07;
  let magnitude = (a & 0x0f) << 4;
  magnitude = exponent === 0 ? magnitude + 8 : ((magnitude + 0x108) << (exponent - 1));
  return sign ? magnitude : -magnitude;
}

const MULAW = Int16Array.from({ length: 256 }, (_, i) => mulawToPcm(i));
const ALAW = Int16Array.from({ length: 256 }, (_, i) => alawToPcm(i));

const clamp16 = (v: number) => (v > 32767 ? 32767 : v < -32768 ? -32768 : v);

/** Read one sample (as a 16-bit value) at byte offset `at`. */
function sampleReader(layout: PcmLayout): (buf: Buffer, at: number) => number {
  const { formatTag, bitsPerSample } = layout;
  if (formatTag === WAVE_FORMAT.MULAW) return (b, at) => MULAW[b[at]!]!;
  if (formatTag === WAVE_FORMAT.ALAW) return (b, at) => ALAW[b[at]!]!;
  if (formatTag === WAVE_FORMAT.IEEE_FLOAT) {
    return bitsPerSample === 32 ? (b, at) => clamp16(Math.round(b.readFloatLE(at) * 32767)) : (b, at) => clamp16(Math.round(b.readDoubleLE(at) * 32767));
  }
  switch (bitsPerSample) {
    case 8:
      return (b, at) => (b[at]! - 128) << 8; // 8-bit WAV is unsigned
    case 16:
      return (b, at) => ((b[at]! | (b[at + 1]! << 8)) << 16) >> 16;
    case 24:
      return (b, at) => ((b[at + 1]! | (b[at + 2]! << 8)) << 16) >> 16;
    default:
      return (b, at) => ((b[at + 2]! | (b[at + 3]! << 8)) << 16) >> 16;
  }
}

export interface FrameDecoder {
  /**
   * Decode `frames` whole frames from `buf` into `left` (and `right` when the output is stereo).
   * With a mono output, all input channels are averaged.
   */
  decode(buf: Buffer, frames: number, left: Int16Array, right: Int16Array | null): void;
}

export function createFrameDecoder(layout: PcmLayout, outputChannels: 1 | 2): FrameDecoder {
  const read = sampleReader(layout);
  const { channels, blockAlign } = layout;
  const bytesPerSample = layout.bitsPerSample / 8;
  return {
    decode(buf, frames, left, right) {
      if (outputChannels === 2 && right) {
        for (let i = 0, at = 0; i < frames; i++, at += blockAlign) {
          left[i] = read(buf, at);
          right[i] = read(buf, at + bytesPerSample);
        }
        return;
      }
      if (channels === 1) {
        for (let i = 0, at = 0; i < frames; i++, at += blockAlign) left[i] = read(buf, at);
        return;
      }
      for (let i = 0, at = 0; i < frames; i++, at += blockAlign) {
        let sum = 0;
        for (let c = 0; c < channels; c++) sum += read(buf, at + c * bytesPerSample);
        left[i] = Math.round(sum / channels);
      }
    },
  };
}

import { findMpegSync, id3v2Size } from './mpeg.ts';

/**
 * Decide what a file is from its first bytes, before any parser sees it. Recording URLs sometimes answer with
 * an HTML login page, a JSON error or an XML storage error with status 200; those must never be stored as audio.
 */

export type SniffedKind = 'wav' | 'mp3' | 'ogg' | 'flac' | 'm4a' | 'webm' | 'aac' | 'aiff' | 'html' | 'json' | 'text' | 'unknown';

export interface Sniffed {
  kind: SniffedKind;
  /** MP3: byte offset of the first frame (after any ID3v2 tag) */
  firstFrame?: number;
  /** MP3: the ID3v2 tag claims more bytes than the file has */
  tagBeyondEnd?: boolean;
}

const ascii = (buf: Uint8Array, at: number, s: string) => {
  for (let i = 0; i < s.length; i++) if (buf[at + i] !== s.charCodeAt(i)) return false;
  return true;
};

/**
 * @param head the first bytes of the file (64 KB is plenty)
 * @param fileBytes the size of the whole file
 */
export function sniffAudio(head: Uint8Array, fileBytes: number): Sniffed {
  const wholeFile = head.length >= fileBytes;
  if ((ascii(head, 0, 'RIFF') || ascii(head, 0, 'RF64')) && ascii(head, 8, 'WAVE')) return { kind: 'wav' };
  if (ascii(head, 0, 'OggS')) return { kind: 'ogg' };
  if (ascii(head, 0, 'fLaC')) return { kind: 'flac' };
  if (ascii(head, 4, 'ftyp')) return { kind: 'm4a' };
  if (head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return { kind: 'webm' };
  if (ascii(head, 0, 'FORM') && (ascii(head, 8, 'AIFF') || ascii(head, 8, 'AIFC'))) return { kind: 'aiff' };

  const tag = id3v2Size(head);
  if (tag > 0) {
    if (tag >= fileBytes) return { kind: 'mp3', firstFrame: tag, tagBeyondEnd: tag > fileBytes };
    if (tag < head.length) {
      const sync = findMpegSync(head, tag, 4096, wholeFile);
      if (sync) return { kind: 'mp3', firstFrame: sync.offset };
      if (isAdts(head, tag)) return { kind: 'aac' };
    }
    // An ID3 tag larger than what was read: trust the tag, the parser will look further.
    return { kind: 'mp3', firstFrame: tag };
  }
  if (isAdts(head, 0)) return { kind: 'aac' };
  const sync = head[0] === 0xff ? findMpegSync(head, 0, 0, wholeFile) : null;
  if (sync) return { kind: 'mp3', firstFrame: 0 };

  return { kind: classifyText(head) };
}

function isAdts(buf: Uint8Array, at: number): boolean {
  // 12-bit sync, layer 00, then a sane sampling-frequency index
  return buf.length >= at + 7 && buf[at] === 0xff && (buf[at + 1]! & 0xf6) === 0xf0 && ((buf[at + 2]! >> 2) & 0xf) < 13;
}

function classifyText(head: Uint8Array): 'html' | 'json' | 'text' | 'unknown' {
  const sample = head.subarray(0, 1024);
  let start = 0;
  if (sample[0] === 0xef && sample[1] === 0xbb && sample[2] === 0xbf) start = 3; // UTF-8 BOM
  let printable = 0;
  for (let i = start; i < sample.length; i++) {
    const c = sample[i]!;
    if (c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127) || c >= 0x80) printable++;
    else if (c === 0) return 'unknown';
  }
  const n = sample.length - start;
  if (n === 0 || printable / n < 0.97) return 'unknown';
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(sample.subarray(start)).trimStart().toLowerCase();
  } catch {
    // invalid UTF-8 may just be cut mid-character at the end of the sample; decode leniently
    text = new TextDecoder('utf-8').decode(sample.subarray(start)).trimStart().toLowerCase();
    if ((text.match(/\uFFFD/g)?.length ?? 0) > 4) return 'unknown';
  }
  if (text.startsWith('<')) {
    if (/^<(!doctype\s+html|html|head|body|\?xml|!--|[a-z][a-z0-9]*[\s>])/.test(text)) return 'html';
  }
  if (text.startsWith('{') || text.startsWith('[')) return 'json';
  return 'text';
}

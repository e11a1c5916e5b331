import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { inspectAudioFile } from '../audio/inspect.ts';
import { AudioConvertError, convertWavToMp3 } from '../audio/convert.ts';
import type { AttemptFailure, AttemptOutcome, CallEndedFacts, RecordingSource } from '../commands/recording.ts';
import type { Config } from '../config.ts';
import { silentLogger, type Logger } from '../log.ts';
import { isRetryableDownload } from '../net/downloadErrors.ts';
import { downloadToFile, type DownloadError } from '../net/safeDownload.ts';
import { recordingObjectPath, type RecordingStorage, type StorageError } from '../storage/port.ts';
import { createVapiClient } from '../vapi/restClient.ts';

/**
 * One attempt of the recording pipeline for one call: fetch (Vapi API or the payload URL) into a temp dir,
 * validate, optionally convert WAV→MP3, upload to the call's deterministic object path (upsert), sign a URL.
 * Every outcome comes back as a value; temp files are always removed. An attempt cut short by `signal`
 * resolves to `{ aborted: true }` and must not be recorded.
 */

export type AttemptConfig = Pick<
  Config,
  | 'VAPI_API_URL'
  | 'VAPI_API_KEY'
  | 'RECORDING_ALLOWED_HOSTS'
  | 'RECORDING_ALLOWED_ADDRESSES'
  | 'RECORDING_DOWNLOAD_TIMEOUT_MS'
  | 'RECORDING_MAX_BYTES'
  | 'RECORDING_FORMAT'
  | 'RECORDING_MP3_BITRATE_KBPS'
  | 'RECORDING_URL_EXPIRY_SECONDS'
>;

export interface AttemptDeps {
  config: AttemptConfig;
  storage: RecordingStorage;
  /** parent of the per-attempt temp dirs (DATA_DIR/tmp) */
  tmpDir: string;
  logger?: Logger;
}

export interface AttemptInput {
  callId: string;
  attempt: number;
  ended: CallEndedFacts;
  signal?: AbortSignal;
}

export type AttemptResult = AttemptOutcome | { aborted: true };

const fail = (step: AttemptFailure['step'], code: string, message: string, retryable: boolean, status: number | null = null): AttemptOutcome => ({
  ok: false,
  failure: { step, code, message, retryable, status },
});

/** Where to fetch from: Vapi's API (private recordings, Bearer, redirects) when a key is set, else the payload URL. */
export function recordingSource(config: AttemptConfig, callId: string, ended: CallEndedFacts): { source: RecordingSource; url: string; headers: Record<string, string> } | null {
  const channel = ended.recordingUrl ? 'mono' : 'stereo';
  if (config.VAPI_API_KEY) {
    const req = createVapiClient({ baseUrl: config.VAPI_API_URL, apiKey: config.VAPI_API_KEY }).recordingUrl(callId, channel);
    return { source: 'vapi-api', url: req.url, headers: req.headers };
  }
  const url = ended.recordingUrl ?? ended.stereoRecordingUrl;
  return url ? { source: 'payload-url', url, headers: {} } : null;
}

/** Allowed hosts: the configured ones plus the Vapi API host. */
export function allowedHosts(config: AttemptConfig): string[] {
  const hosts = [...config.RECORDING_ALLOWED_HOSTS];
  try {
    hosts.push(new URL(config.VAPI_API_URL).hostname);
  } catch {
    // validated by the config schema
  }
  return hosts;
}

/** The catalogue code of each way a download fails. */
const downloadFailureCodes: Record<DownloadError['code'], string> = {
  http_status: 'recording_http_error',
  invalid_url: 'invalid_recording_url',
  host_not_allowed: 'host_not_allowed',
  address_not_allowed: 'address_not_allowed',
  too_many_redirects: 'too_many_redirects',
  too_large: 'recording_too_large',
  timeout: 'download_timeout',
  connection_error: 'download_connection_error',
  truncated: 'download_truncated',
  io_error: 'temp_io_error',
  aborted: 'temp_io_error',
};

/**
 * A download error as a pipeline failure: catalogue code, and whether a retry can help (as for any download,
 * and a 404 too: Vapi may not have the recording yet, so it is retried until retries run out).
 */
export function classifyDownloadError(e: DownloadError): AttemptFailure {
  const retryable = isRetryableDownload(e.code, e.status) || (e.code === 'http_status' && e.status === 404);
  return { step: 'fetch', code: downloadFailureCodes[e.code], message: e.message, retryable, status: e.status ?? null };
}

function storageFailure(step: 'upload' | 'sign', e: StorageError): AttemptOutcome {
  return fail(step, e.retryable ? 'storage_unavailable' : 'storage_error', `${e.code}: ${e.message}`, e.retryable, e.status ?? null);
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

export async function runRecordingAttempt(deps: AttemptDeps, input: AttemptInput): Promise<AttemptResult> {
  const { config, storage } = deps;
  const logger = deps.logger ?? silentLogger;
  const { callId, ended, signal } = input;
  const source = recordingSource(config, callId, ended);
  if (!source) return fail('fetch', 'no_recording_url', 'the call has no recording URL', false);

  let dir: string;
  try {
    dir = await mkdtemp(join(deps.tmpDir, 'rec-'));
  } catch (err) {
    return fail('fetch', 'temp_io_error', `cannot create a temp dir: ${(err as Error).message}`, true);
  }
  try {
    // 1. fetch
    const dl = await downloadToFile({
      url: source.url,
      headers: source.headers,
      allowedHosts: allowedHosts(config),
      allowedAddresses: config.RECORDING_ALLOWED_ADDRESSES,
      timeoutMs: config.RECORDING_DOWNLOAD_TIMEOUT_MS,
      maxBytes: config.RECORDING_MAX_BYTES,
      destDir: dir,
      signal,
      logger,
    });
    if (signal?.aborted) return { aborted: true };
    if (!dl.ok) return { ok: false, failure: classifyDownloadError(dl.error) };

    // 2. validate
    const info = await inspectAudioFile(dl.path);
    if (!info.ok) {
      if (info.error.code === 'truncated') return fail('validate', 'download_truncated', info.error.message, true);
      return fail('validate', 'invalid_audio', `${info.error.code}: ${info.error.message}`, false);
    }

    // 3. convert (optional)
    let file = dl.path;
    let stored = { bytes: dl.bytes, sha256: dl.sha256, format: info.format as string, codec: info.codec as string | null, contentType: info.contentType, ext: info.ext };
    let durationSeconds = info.durationSeconds;
    let channels: number | null = info.channels;
    let sampleRate: number | null = info.sampleRate;
    let originalBytes: number | null = null;
    let compressionRatio: number | null = null;
    if (config.RECORDING_FORMAT === 'mp3' && info.format === 'wav') {
      const out = join(dir, 'converted.mp3');
      try {
        const conv = await convertWavToMp3(dl.path, out, { bitrateKbps: config.RECORDING_MP3_BITRATE_KBPS, signal });
        const mp3 = await inspectAudioFile(out);
        if (!mp3.ok) return fail('convert', 'conversion_failed', `the converted MP3 is not valid: ${mp3.error.message}`, false);
        file = out;
        stored = { bytes: conv.bytes, sha256: await sha256File(out), format: 'mp3', codec: mp3.codec, contentType: mp3.contentType, ext: 'mp3' };
        durationSeconds = mp3.durationSeconds;
        channels = mp3.channels;
        sampleRate = mp3.sampleRate;
        originalBytes = dl.bytes;
        compressionRatio = conv.ratio;
      } catch (err) {
        if (signal?.aborted) return { aborted: true };
        const code = err instanceof AudioConvertError ? err.code : 'io_error';
        return fail('convert', code === 'io_error' ? 'temp_io_error' : 'conversion_failed', `${code}: ${(err as Error).message}`, code === 'io_error');
      }
    }
    if (signal?.aborted) return { aborted: true };

    // 4. upload to the deterministic path (upsert: a redo overwrites, never adds)
    const path = recordingObjectPath({ orgId: ended.orgId, endedAt: new Date(ended.endedAt), callId, ext: stored.ext });
    if (!path.ok) return fail('upload', 'storage_error', path.error.message, false);
    const put = await storage.put(path.value, file, { contentType: stored.contentType });
    if (!put.ok) return storageFailure('upload', put.error);
    if (signal?.aborted) return { aborted: true };

    // 5. sign
    const signed = await storage.createSignedUrl(path.value, config.RECORDING_URL_EXPIRY_SECONDS);
    if (!signed.ok) return storageFailure('sign', signed.error);

    return {
      ok: true,
      uploaded: {
        storagePath: path.value,
        bytes: stored.bytes,
        sha256: stored.sha256,
        format: stored.format,
        codec: stored.codec,
        contentType: stored.contentType,
        durationSeconds,
        channels,
        sampleRate,
        source: source.source,
        originalBytes,
        compressionRatio,
      },
      signed: signed.value,
    };
  } finally {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { EventStore, NewEvent } from '../../src/events/port.ts';
import { createLocalStorage, type LocalRecordingStorage } from '../../src/storage/local.ts';
import type { RecordingStorage } from '../../src/storage/port.ts';
import { createSupabaseStorage } from '../../src/storage/supabase.ts';
import { startFakeSupabaseStorage, type FakeSupabaseStorage } from '../fakes/supabaseStorage.ts';

/** A storage adapter for sweep tests, with a way to put an object of a chosen age. */
export interface SweepStorage {
  name: 'local' | 'supabase';
  storage: RecordingStorage;
  /** Puts `bytes` bytes at `objectPath` with lastModified = `time`. */
  putAt(objectPath: string, time: Date, bytes?: number): Promise<void>;
  exists(objectPath: string): Promise<boolean>;
  close(): Promise<void>;
}

const SERVICE_ROLE_KEY = 'test-service-role-key-0123456789abcdef';

async function tempFile(dir: string, bytes: number): Promise<string> {
  const file = path.join(dir, `${randomUUID()}.src`);
  await writeFile(file, Buffer.alloc(bytes, 3));
  return file;
}

export async function localSweepStorage(): Promise<SweepStorage> {
  const root = await mkdtemp(path.join(tmpdir(), 'callrec-sweep-'));
  const scratch = await mkdtemp(path.join(tmpdir(), 'callrec-sweep-src-'));
  const storage: LocalRecordingStorage = createLocalStorage({ root: path.join(root, 'objects'), publicBaseUrl: 'http://127.0.0.1:9', signingSecret: 'sweep-test-signing-secret-01234' });
  return {
    name: 'local',
    storage,
    async putAt(objectPath, time, bytes = 1000) {
      const file = await tempFile(scratch, bytes);
      const r = await storage.put(objectPath, file, { contentType: 'audio/wav' });
      if (!r.ok) throw new Error(r.error.message);
      await utimes(path.join(root, 'objects', ...objectPath.split('/')), time, time);
    },
    async exists(objectPath) {
      const r = await storage.stat(objectPath);
      if (!r.ok) throw new Error(r.error.message);
      return r.value !== null;
    },
    async close() {
      await rm(root, { recursive: true, force: true });
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

export async function supabaseSweepStorage(): Promise<SweepStorage & { fake: FakeSupabaseStorage }> {
  const fake = await startFakeSupabaseStorage({ serviceRoleKey: SERVICE_ROLE_KEY, bucket: 'call-recordings' });
  const scratch = await mkdtemp(path.join(tmpdir(), 'callrec-sweep-src-'));
  const storage = createSupabaseStorage({ url: fake.url, serviceRoleKey: SERVICE_ROLE_KEY, bucket: 'call-recordings', pageSize: 2 });
  return {
    name: 'supabase',
    storage,
    fake,
    async putAt(objectPath, time, bytes = 1000) {
      const file = await tempFile(scratch, bytes);
      const r = await storage.put(objectPath, file, { contentType: 'audio/wav' });
      if (!r.ok) throw new Error(r.error.message);
      fake.setObjectTime(objectPath, time);
    },
    async exists(objectPath) {
      return fake.objects.has(objectPath);
    },
    async close() {
      await fake.close();
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

const meta = (orgId: string, at: Date) => ({ correlationId: randomUUID(), causationId: null, orgId, recordedAt: at.toISOString(), actor: 'test' });

/** Appends CallEnded (+ RecordingUploaded for `storagePath` when given) for a new call; returns its id. */
export async function seedCall(store: EventStore, orgId: string, at: Date, storagePath?: string, opts: { durationSeconds?: number; bytes?: number } = {}): Promise<string> {
  const callId = `call-${randomUUID()}`;
  const events: NewEvent[] = [
    {
      eventId: randomUUID(),
      type: 'CallEnded',
      metadata: meta(orgId, at),
      data: {
        callId, orgId, vapiOrgId: null, callType: 'inboundPhoneCall', assistantId: null, phoneNumberId: null, customerNumber: null,
        startedAt: new Date(at.getTime() - 60_000).toISOString(), endedAt: at.toISOString(), durationSeconds: opts.durationSeconds ?? 60,
        endedReason: 'customer-ended-call', transcript: 'hello', summary: null, cost: 0.1,
        recordingUrl: storagePath ? 'https://storage.vapi.ai/x.wav' : null, stereoRecordingUrl: null, messageAt: at.toISOString(),
      },
    },
  ];
  if (storagePath) {
    events.push({
      eventId: randomUUID(),
      type: 'RecordingUploaded',
      metadata: meta(orgId, at),
      data: {
        callId, attempt: 1, storagePath, bytes: opts.bytes ?? 1000, sha256: createHash('sha256').update(storagePath).digest('hex'), format: 'wav', codec: null,
        contentType: 'audio/wav', durationSeconds: opts.durationSeconds ?? 60, channels: 1, sampleRate: 8000, source: 'payload-url',
        originalBytes: null, compressionRatio: null,
      },
    });
  }
  const r = await store.append(`call-${callId}`, events, 'no_stream');
  if (!r.ok) throw new Error(r.error.message);
  return callId;
}

export const DAY = 86_400_000;

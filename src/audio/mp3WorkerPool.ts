import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Mp3WorkerJob, Mp3WorkerReply } from './mp3Worker.ts';

/**
 * A small pool of MP3 encoder threads: at most one per CPU busy at a time (further jobs queue), idle threads kept
 * for a while so that a burst of calls does not pay thread start-up (~0.2–0.5 s, ~55 MB each) for every file.
 * Idle threads never keep the process alive.
 */

export type PoolFailure = { kind: 'aborted' } | { kind: 'crashed'; message: string };

interface PooledWorker {
  worker: Worker;
  idleTimer?: NodeJS.Timeout;
}

const MAX_BUSY = Math.max(1, availableParallelism());
const IDLE_MS = 30_000;

const runningFromTypeScript = import.meta.url.endsWith('.ts');
const workerUrl = new URL(runningFromTypeScript ? './mp3Worker.ts' : './mp3Worker.js', import.meta.url);

const idle: PooledWorker[] = [];
let busy = 0;
const waiting: Array<() => void> = [];
let nextId = 0;

/**
 * Module hooks registered in the main thread (tsx) do not reach worker threads on Node 20, so when callrec runs
 * from TypeScript the thread first registers tsx and then imports the worker module.
 */
function spawn(): PooledWorker {
  let worker: Worker;
  if (runningFromTypeScript) {
    const tsxApi = import.meta.resolve('tsx/esm/api');
    const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(workerUrl.href)}); });`;
    worker = new Worker(bootstrap, { eval: true });
  } else {
    worker = new Worker(workerUrl);
  }
  const pooled: PooledWorker = { worker };
  // A thread that dies while idle just leaves the pool; errors while busy are handled by runMp3Job.
  worker.on('error', () => undefined);
  worker.on('exit', () => {
    const i = idle.indexOf(pooled);
    if (i >= 0) idle.splice(i, 1);
    if (pooled.idleTimer) clearTimeout(pooled.idleTimer);
  });
  return pooled;
}

function release(pooled: PooledWorker): void {
  pooled.worker.unref();
  pooled.idleTimer = setTimeout(() => void pooled.worker.terminate(), IDLE_MS);
  pooled.idleTimer.unref();
  idle.push(pooled);
}

async function acquireSlot(signal?: AbortSignal): Promise<void> {
  if (busy < MAX_BUSY) {
    busy++;
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const grant = () => {
      signal?.removeEventListener('abort', onAbort);
      busy++;
      resolve();
    };
    const onAbort = () => {
      const i = waiting.indexOf(grant);
      if (i >= 0) waiting.splice(i, 1);
      reject({ kind: 'aborted' } satisfies PoolFailure);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    waiting.push(grant);
  });
}

function releaseSlot(): void {
  busy--;
  waiting.shift()?.();
}

/**
 * Run one encoding job on a pooled thread; `onStart` fires when it leaves the queue. Rejects with a PoolFailure. On abort the thread is terminated and
 * the promise settles only once it has stopped, so it can no longer touch the job's files.
 */
export async function runMp3Job(job: Mp3WorkerJob, signal?: AbortSignal, onStart?: () => void): Promise<Mp3WorkerReply> {
  if (signal?.aborted) throw { kind: 'aborted' } satisfies PoolFailure;
  await acquireSlot(signal);
  try {
    onStart?.();
    const pooled = idle.pop() ?? spawn();
    if (pooled.idleTimer) clearTimeout(pooled.idleTimer);
    pooled.worker.ref();
    const id = ++nextId;
    return await new Promise<Mp3WorkerReply>((resolve, reject) => {
      let aborting = false;
      const cleanup = () => {
        signal?.removeEventListener('abort', onAbort);
        pooled.worker.off('message', onMessage);
        pooled.worker.off('error', onError);
        pooled.worker.off('exit', onExit);
      };
      const onMessage = (msg: { id: number; reply: Mp3WorkerReply }) => {
        if (msg.id !== id || aborting) return;
        cleanup();
        release(pooled);
        resolve(msg.reply);
      };
      const onError = (err: Error) => {
        if (aborting) return;
        cleanup();
        void pooled.worker.terminate();
        reject({ kind: 'crashed', message: err.message } satisfies PoolFailure);
      };
      const onExit = (code: number) => {
        cleanup();
        reject((aborting ? { kind: 'aborted' } : { kind: 'crashed', message: `exited with code ${code}` }) satisfies PoolFailure);
      };
      const onAbort = () => {
        aborting = true;
        void pooled.worker.terminate(); // settles through onExit
      };
      pooled.worker.on('message', onMessage);
      pooled.worker.on('error', onError);
      pooled.worker.on('exit', onExit);
      signal?.addEventListener('abort', onAbort, { once: true });
      pooled.worker.postMessage({ id, job });
    });
  } finally {
    releaseSlot();
  }
}

/** Stop the idle encoder threads (for a clean shutdown; busy ones finish their job first). */
export async function closeMp3Workers(): Promise<void> {
  const stopping = idle.splice(0).map((p) => {
    if (p.idleTimer) clearTimeout(p.idleTimer);
    return p.worker.terminate();
  });
  await Promise.all(stopping);
}

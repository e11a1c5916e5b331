import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { eventually } from './eventually.ts';
import { withTestMasterKey } from './privacy.ts';

export interface CallrecProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  /** SIGKILL: the process gets no chance to clean up (leases stay until they expire). */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts `npm start`'s entry point as a real child process and waits until /health answers. With DATABASE_URL
 * and no PII_MASTER_KEY in `env`, the tests' master key is passed (the service refuses to start without one).
 */
export async function startCallrecProcess(env: Record<string, string>, port: number): Promise<CallrecProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/main.ts')], {
    env: { ...process.env, LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: String(port), ...withTestMasterKey(env) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await eventually(() => `callrec to answer /health:\n${out}`, async () => {
    if (child.exitCode !== null) throw new Error(`callrec exited with ${child.exitCode}:\n${out}`);
    return fetch(`${url}/health`).then((r) => r.ok, () => false);
  }, { timeoutMs: 30_000, intervalMs: 100 }).catch((err) => {
    child.kill('SIGKILL');
    throw err;
  });
  return {
    url,
    child,
    output: () => out,
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

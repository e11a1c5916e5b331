import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withTestMasterKey } from './privacy.ts';

export const CALLREC_BIN = fileURLToPath(new URL('../../bin/callrec.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `callrec <args>` as a user would (`node bin/callrec.js`), with a clean environment plus `env` (and the
 * tests' PII_MASTER_KEY when `env` names DATABASE_URL without one; `PII_MASTER_KEY: undefined` leaves it out).
 */
export function runCli(args: string[], env: Record<string, string | undefined>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CALLREC_BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'silent', ...withTestMasterKey(env) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000); // generous: CI machines are shared
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

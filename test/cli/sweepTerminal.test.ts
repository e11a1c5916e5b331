import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CALLREC_BIN } from '../support/cli.ts';

/**
 * `callrec sweep` on a terminal: util-linux `script` gives the CLI a real pseudo-terminal, so this is what a user
 * at a shell sees: the list of what would be deleted, a progress bar, and a question answered with n or y.
 */

const test = suite('callrec sweep on a terminal');
const exists = (p: string) => stat(p).then(() => true, () => false);
const hasScript = spawnSync('script', ['--version']).status === 0;

function onTerminal(args: string[], env: Record<string, string>, answer: string): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, CALLREC_BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TERM: 'dumb', LOG_LEVEL: 'silent', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    let answered = false;
    const onData = (d: Buffer) => {
      output += d.toString('utf8');
      // Answer once the question is on the screen (typed input before it would be read the same way, but this is what a user does).
      if (!answered && /\[y\/N\]/.test(output)) {
        answered = true;
        child.stdin.write(`${answer}\r`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test('shows what it will delete, asks, deletes nothing on "n" and exactly the listed objects on "y"', async () => {
  if (!hasScript) {
    console.warn('!! util-linux `script` is not installed: the terminal test is SKIPPED');
    return;
  }
  const dataDir = await mkdtemp(path.join(tmpdir(), 'callrec-cli-tty-'));
  try {
    const orphan = path.join(dataDir, 'recordings', 'org-a', 'old.wav');
    await mkdir(path.dirname(orphan), { recursive: true });
    await writeFile(orphan, Buffer.alloc(1024, 1));
    const t = new Date(Date.now() - 30 * 86_400_000);
    await utimes(orphan, t, t);
    const env = { DATA_DIR: dataDir, RECORDING_SIGNING_SECRET: 'tty-sweep-signing-secret-012345' };

    const no = await onTerminal(['sweep'], env, 'n');
    assert.is(no.code, 1, no.output);
    assert.match(no.output, /would delete {2}org-a\/old\.wav {2}1024 bytes {2}30 days old/);
    assert.match(no.output, /sweep: looking for orphans \[/, 'a progress bar on the terminal');
    assert.match(no.output, /Delete 1 object\(s\) \(0\.00 MB\) and flag 0 call\(s\) as missing\? \[y\/N\]/);
    assert.match(no.output, /cancelled: nothing was deleted or written/);
    assert.ok(await exists(orphan));

    const yes = await onTerminal(['sweep'], env, 'y');
    assert.is(yes.code, 0, yes.output);
    assert.match(yes.output, /deleted {2}org-a\/old\.wav/);
    assert.not.ok(await exists(orphan));
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.run();

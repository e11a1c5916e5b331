import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeWavFile } from '../fakes/audioFiles.ts';
import { freePort } from '../support/processes.ts';

/**
 * The deployable build, assembled exactly as the Dockerfile's runtime stage does: `npm run build`'s output,
 * bin/, db/, package.json and only the production dependencies (what `npm ci --omit=dev` installs, read from
 * package-lock.json; linked from this checkout's node_modules). No tsx, no TypeScript, no src/. Then the built
 * service starts and answers /health, serves the dashboard, converts WAV to MP3 on its worker thread, and the
 * built `callrec` command runs.
 */

const test = suite('deploy: the built service and CLI run without tsx or TypeScript');
const root = path.resolve('.');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { cwd: string; env?: Record<string, string> }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The packages `npm ci --omit=dev` installs: every node_modules/… entry of the lock file not marked dev. */
async function productionPackages(): Promise<string[]> {
  const lock = JSON.parse(await readFile(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; optional?: boolean }> };
  return Object.entries(lock.packages)
    .filter(([p, meta]) => p.startsWith('node_modules/') && !p.slice('node_modules/'.length).includes('/node_modules/') && !meta.dev)
    .map(([p]) => p.slice('node_modules/'.length));
}

const exists = (p: string) => stat(p).then(() => true, () => false);

test('npm run build; node dist/main.js answers /health; the callrec bin runs; MP3 conversion works from dist', async () => {
  const image = await mkdtemp(path.join(tmpdir(), 'callrec-image-'));
  const dataDir = await mkdtemp(path.join(tmpdir(), 'callrec-image-data-'));
  try {
    // Build stage: `npm run build` (here into the image directory instead of ./dist, so parallel runs never share it).
    const build = await run('npm', ['run', 'build', '--', '--out', path.join(image, 'dist')], { cwd: root });
    assert.is(build.code, 0, build.stdout + build.stderr);
    assert.ok(await exists(path.join(image, 'dist/main.js')));
    assert.ok(await exists(path.join(image, 'dist/audio/mp3Worker.js')));
    assert.ok(await exists(path.join(image, 'dist/http/dashboard/index.html')));
    assert.not.ok(await exists(path.join(image, 'dist/http/dashboard/format.d.ts')));

    // Runtime stage: COPY package*.json, bin, db; RUN npm ci --omit=dev.
    for (const f of ['package.json', 'package-lock.json']) await cp(path.join(root, f), path.join(image, f));
    await cp(path.join(root, 'bin'), path.join(image, 'bin'), { recursive: true });
    await cp(path.join(root, 'db'), path.join(image, 'db'), { recursive: true });
    const packages = await productionPackages();
    assert.ok(packages.includes('koa') && packages.includes('@electric-sql/pglite'));
    for (const dev of ['tsx', 'typescript', 'esbuild', 'uvu']) assert.not.ok(packages.includes(dev), `${dev} is not a production dependency`);
    for (const name of packages) {
      const from = path.join(root, 'node_modules', name);
      if (!(await exists(from))) continue; // an optional package for another platform
      await mkdir(path.dirname(path.join(image, 'node_modules', name)), { recursive: true });
      await symlink(from, path.join(image, 'node_modules', name), 'dir');
    }
    const js = (await readdir(path.join(image, 'dist'), { recursive: true })).filter((f) => f.endsWith('.js'));
    for (const f of js) {
      const text = await readFile(path.join(image, 'dist', f), 'utf8');
      // A JSDoc type import of a .d.ts (the dashboard's types) is a comment, not loaded at run time.
      assert.not.match(text, /from ['"][^'"]+(?<!\.d)\.ts['"]|import\(['"][^'"]+(?<!\.d)\.ts['"]\)/, `${f} imports a .ts file`);
    }

    const env = { DATA_DIR: dataDir, LOG_LEVEL: 'warn', NODE_ENV: 'production' };
    // The built CLI.
    const help = await run(process.execPath, ['bin/callrec.js', '--help'], { cwd: image, env });
    assert.is(help.code, 0, help.stderr);
    assert.match(help.stdout, /Usage: callrec <command>/);
    const migrate = await run(process.execPath, ['bin/callrec.js', 'migrate'], { cwd: image, env });
    assert.is(migrate.code, 0, migrate.stderr);
    assert.match(migrate.stdout, /applied: 001_/);

    // WAV → MP3 on the worker thread, loaded from dist/audio/mp3Worker.js.
    const wav = path.join(dataDir, 'tone.wav');
    await writeWavFile(wav, { sampleRate: 16000, channels: 1, bitsPerSample: 16, seconds: 1 });
    await writeFile(
      path.join(image, 'convert.mjs'),
      `import { convertWavToMp3, closeMp3Workers } from './dist/audio/convert.js';\n` +
        `const r = await convertWavToMp3(${JSON.stringify(wav)}, ${JSON.stringify(`${wav}.mp3`)});\nconsole.log(JSON.stringify(r));\nawait closeMp3Workers();\n`,
    );
    const mp3 = await run(process.execPath, ['convert.mjs'], { cwd: image, env });
    assert.is(mp3.code, 0, mp3.stderr);
    assert.ok((JSON.parse(mp3.stdout) as { bytes: number }).bytes > 0);

    // The built service, as the image's CMD starts it.
    const port = await freePort();
    const child = spawn(process.execPath, ['dist/main.js'], { cwd: image, env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      let health: Response | undefined;
      for (const deadline = Date.now() + 60_000; Date.now() < deadline && child.exitCode === null; ) {
        health = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
        if (health?.ok) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.is(health?.status, 200, out);
      const page = await fetch(`http://127.0.0.1:${port}/`);
      assert.is(page.status, 200);
      assert.match(await page.text(), /<script/);
      assert.is((await fetch(`http://127.0.0.1:${port}/dashboard/app.js`)).status, 200);
    } finally {
      child.kill('SIGTERM');
      assert.is(await exited, 0, out);
    }
  } finally {
    await rm(image, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.run();

// `npm run bench`: every benchmark, each printing its figures beside a baseline measured in the same run.
// Run one with `npm run bench -- appends` (names: appends, readAll, ingest, pipeline, sse, audio, scale, reconcile, flood, privacy, privacy-rebuild).
// Options after a name belong to that benchmark: `npm run bench -- scale --max 100000`.
const all: Array<[string, () => Promise<unknown>]> = [
  ['appends', async () => (await import('./appends.ts')).benchAppends()],
  ['readAll', async () => (await import('./readAll.ts')).benchReadAll()],
  ['ingest', async () => (await import('./ingest.ts')).benchIngest()],
  ['pipeline', async () => (await import('./pipeline.ts')).benchPipeline()],
  ['sse', async () => (await import('./sse.ts')).benchSse()],
  ['audio', async () => (await import('./audio.ts')).benchAudio()],
  ['scale', async () => (await import('./scale.ts')).benchScale()],
  ['reconcile', async () => (await import('./reconcile.ts')).benchReconcile()],
  ['flood', async () => (await import('./flood.ts')).benchFlood()],
  ['privacy', async () => (await import('./privacy.ts')).benchPrivacy()],
  ['privacy-rebuild', async () => (await import('./privacyRebuild.ts')).benchPrivacyRebuild()],
];

const args = process.argv.slice(2);
const firstOption = args.findIndex((a) => a.startsWith('--'));
const wanted = firstOption < 0 ? args : args.slice(0, firstOption);
const unknown = wanted.filter((w) => !all.some(([n]) => n === w));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${all.map(([n]) => n).join(', ')}`);
  process.exit(2);
}
console.log(`callrec benchmarks on Node ${process.version}, ${(await import('node:os')).cpus().length} cores`);
for (const [name, run] of all) {
  if (wanted.length ? !wanted.includes(name) : name === 'scale') continue; // scale takes many minutes: by name only
  console.log(`\n## ${name}`);
  await run();
}
process.exit(0);

import { allProjectors, PROJECTOR_NAMES } from '../../projections/all.ts';
import { rebuildProjection, tableChecksum } from '../../projections/rebuild.ts';
import { stringOption, UsageError, type CliCommand } from '../command.ts';
import { withRuntime } from '../runtime.ts';

export const replayCommand: CliCommand = {
  name: 'replay',
  summary: 'rebuild read models from the log (new table, replay, swap); prints a checksum per table',
  usage: '[--projection NAME]',
  options: { projection: { type: 'string', value: 'NAME', description: `only this projection (${PROJECTOR_NAMES.join(', ')})` } },
  async run(args, ctx) {
    const name = stringOption(args, 'projection');
    if (name !== undefined && !(PROJECTOR_NAMES as readonly string[]).includes(name)) throw new UsageError(`unknown projection ${JSON.stringify(name)}; known: ${PROJECTOR_NAMES.join(', ')}`);
    return withRuntime(
      async ({ database, store, keyring }) => {
        for (const p of allProjectors(keyring).filter((p) => !name || p.name === name)) {
          const progress = ctx.progress({ label: `replay ${p.name}`, unit: 'events', total: await store.headPosition() });
          const r = await rebuildProjection(database.db, store, p, { onProgress: (position) => progress.update(position) });
          progress.done(`${r.events} applied`);
          const rate = r.ms > 0 ? Math.round((r.events / r.ms) * 1000) : r.events;
          ctx.out(`${p.name}: replayed ${r.events} events up to position ${r.position} in ${r.ms} ms (${rate} events/s)`);
          for (const t of p.tables) {
            const c = await tableChecksum(database.db, t);
            ctx.out(`  checksum ${t}: ${c.md5} (${c.rows} rows)`);
          }
        }
        return 0;
      },
      {},
      ctx.env,
    );
  },
};

import { migrate } from '../../db/migrate.ts';
import type { CliCommand } from '../command.ts';
import { withRuntime } from '../runtime.ts';

export const migrateCommand: CliCommand = {
  name: 'migrate',
  summary: 'apply database migrations (the service also does this at every start)',
  usage: '',
  async run(_args, ctx) {
    return withRuntime(
      async ({ database }) => {
        const applied = await migrate(database);
        ctx.out(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
        return 0;
      },
      { migrate: false },
      ctx.env,
    );
  },
};

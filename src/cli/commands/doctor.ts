import { ConfigError, loadConfig } from '../../config.ts';
import type { CliCommand } from '../command.ts';
import { checkDatabase, checkMasterKey, checkSecurity, checkStorage, checkVapi, type CheckResult } from '../doctorChecks.ts';

const line = (r: CheckResult) => `${r.status.padEnd(4)}  ${r.name.padEnd(14)} ${r.detail}`;

/**
 * `callrec doctor`: configuration, secure-by-default state, database (reachable, schema version, projection lag),
 * the PII master key (present, generated file or missing; unwraps the stored data keys),
 * storage (probe object written, read back, signed, deleted) and the Vapi key, one line each. Exit 1 on any
 * failure. Read-only except for the probe object (and PGlite creating DATA_DIR/pg when it does not exist).
 */
export const doctorCommand: CliCommand = {
  name: 'doctor',
  summary: 'check configuration, security, database, the PII master key, storage and the Vapi key; one line per check, exit 1 on any failure',
  usage: '',
  async run(_args, ctx) {
    let config;
    try {
      config = loadConfig(ctx.env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const problem of err.problems) ctx.out(line({ name: 'configuration', status: 'fail', detail: problem }));
      ctx.out('doctor: the configuration is invalid, so nothing else was checked');
      return 1;
    }
    const results: CheckResult[] = [];
    const report = (r: CheckResult) => {
      results.push(r);
      ctx.out(line(r));
    };
    report({
      name: 'configuration',
      status: 'ok',
      detail: `valid; database ${config.DATABASE_URL ? 'PostgreSQL' : 'embedded'}, event store ${config.EVENTSTORE_URL ? 'EventStoreDB' : 'Postgres'}, storage ${config.STORAGE}, HOST ${config.HOST}`,
    });
    report(checkSecurity(config));
    for (const r of await checkDatabase(config)) report(r);
    report(await checkMasterKey(config));
    report(await checkStorage(config));
    report(await checkVapi(config));
    const failed = results.filter((r) => r.status === 'fail');
    ctx.out(failed.length ? `doctor: ${failed.length} check(s) failed: ${failed.map((r) => r.name).join(', ')}` : 'doctor: all checks passed');
    return failed.length ? 1 : 0;
  },
};

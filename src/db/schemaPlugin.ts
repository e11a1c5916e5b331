import {
  OperationNodeTransformer,
  TableNode,
  WithSchemaPlugin,
  type Kysely,
  type KyselyPlugin,
  type OperationNode,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RawNode,
  type RootOperationNode,
  type UnknownRow,
} from 'kysely';

/** A schema name callrec accepts: lower-case letters, digits and _, so it is the same quoted or not. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,39}$/;

export function assertSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid schema name "${schema}": lower-case letters, digits and _ only, at most 40 characters`);
  if (schema === 'public' || schema === 'information_schema' || schema.startsWith('pg_')) {
    throw new Error(`schema "${schema}" is not callrec's own: choose another (default callrec)`);
  }
  return schema;
}

/**
 * Qualifies every table callrec names with its schema, so that no query depends on the session's
 * search_path (a transaction-mode pooler hands each transaction a different server connection):
 * - builder queries through kysely's WithSchemaPlugin;
 * - raw SQL wherever a table is written as `sql.table('name')` (kysely's own plugin leaves those alone);
 * - `redirect` sends some tables to another schema (a rebuild replays into copies in a scratch schema).
 */
export class CallrecSchemaPlugin implements KyselyPlugin {
  readonly schema: string;
  readonly #raw: QualifyRawTables;
  readonly #builder: WithSchemaPlugin;

  constructor(schema: string, redirect: { tables: readonly string[]; schema: string } | undefined = undefined) {
    this.schema = assertSchemaName(schema);
    const target = (name: string) => (redirect?.tables.includes(name) ? redirect.schema : this.schema);
    this.#raw = new QualifyRawTables(target, new Set(redirect?.tables ?? []));
    this.#builder = new WithSchemaPlugin(schema);
  }

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const node = this.#raw.transformNode(args.node, args.queryId);
    return this.#builder.transformQuery({ ...args, node });
  }

  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result);
  }
}

class QualifyRawTables extends OperationNodeTransformer {
  readonly #target: (name: string) => string;
  readonly #redirected: Set<string>;

  constructor(target: (name: string) => string, redirected: Set<string>) {
    super();
    this.#target = target;
    this.#redirected = redirected;
  }

  protected override transformRaw(node: RawNode, queryId?: unknown): RawNode {
    const t = super.transformRaw(node, queryId as never);
    return { ...t, parameters: t.parameters.map((p) => this.#qualify(p, true)) };
  }

  protected override transformTable(node: TableNode, queryId?: unknown): TableNode {
    const t = super.transformTable(node, queryId as never);
    // Redirected tables are qualified everywhere (from, into, column references) before WithSchemaPlugin runs.
    return this.#qualify(t, false) as TableNode;
  }

  #qualify(node: OperationNode, any: boolean): OperationNode {
    if (!TableNode.is(node) || node.table.schema) return node;
    const name = node.table.identifier.name;
    if (!any && !this.#redirected.has(name)) return node;
    return TableNode.createWithSchema(this.#target(name), name);
  }
}

/** The schema a callrec database handle qualifies its tables with. */
export function schemaOf(db: Kysely<any>): string {
  const plugin = db.getExecutor().plugins.find((p): p is CallrecSchemaPlugin => p instanceof CallrecSchemaPlugin);
  if (!plugin) throw new Error('this database handle was not opened by connectDatabase (no callrec schema)');
  return plugin.schema;
}

/** The same database handle with `tables` read and written in `scratch` instead (rebuilds). */
export function withTablesIn<T extends Kysely<any>>(db: T, tables: readonly string[], scratch: string): T {
  const schema = schemaOf(db);
  return db.withoutPlugins().withPlugin(new CallrecSchemaPlugin(schema, { tables, schema: scratch })) as T;
}

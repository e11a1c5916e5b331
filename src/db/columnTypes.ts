import type { ColumnType } from 'kysely';

/** Columns as kysely sees them. int8 comes back as string (pg) or number/bigint (PGlite): normalise with Number(). */
export type Int8 = ColumnType<string | number | bigint, number | bigint | string, number | bigint | string>;
export type Timestamp = ColumnType<Date, Date | string, Date | string>;

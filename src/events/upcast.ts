/**
 * Upcasters turn an event written in an older schemaVersion into the current shape when it is read.
 * The log itself is never rewritten. Register one per (type, fromVersion) when a schema changes.
 */
type Upcaster = (data: any) => any;

const upcasters: Record<string, Record<number, Upcaster>> = {
  // Example for a future change: CallEnded: { 1: (d) => ({ ...d, newField: null }) },
};

export function upcast(type: string, schemaVersion: number | undefined, data: unknown): unknown {
  let version = schemaVersion ?? 1;
  let out = data;
  const chain = upcasters[type];
  while (chain && chain[version]) {
    out = chain[version]!(out);
    version += 1;
  }
  return out;
}

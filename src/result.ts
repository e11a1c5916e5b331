/**
 * The one result type: a success or a failure told apart by `ok`, as plain objects (never thrown). Each side's
 * fields sit beside `ok`, so the unions callrec already returns keep their runtime shape:
 *
 *   Result<{ value: T }, { error: E }>                 { ok: true, value } | { ok: false, error }
 *   Result<{ path: string; bytes: number }, { error: E }>  fields of the success beside `ok`
 *   Result<{ caller: Caller }, { code: 'forbidden'; message: string }>  a failure's fields beside `ok`
 *
 * `ValueResult<T, E>` names the first, most common case.
 */
export type Result<Success extends object, Failure extends object> = ({ ok: true } & Success) | ({ ok: false } & Failure);

/** `{ ok: true, value } | { ok: false, error }`. */
export type ValueResult<T, E> = Result<{ value: T }, { error: E }>;

/** The failure side of a result whose failure is `{ error }`. */
export type Err<E> = { ok: false; error: E };

import { blindToken } from './crypto.ts';

/**
 * The blind search index of call_logs (pure functions). The text of a call is never indexed as words: each
 * normalised word is replaced by its blinded token (an HMAC under the deployment's search key, see crypto.ts),
 * and the tsvector holds those tokens at the words' positions. A query is parsed here (web-search syntax, as
 * PostgreSQL's websearch_to_tsquery reads it) and its words blinded the same way, so PostgreSQL matches tokens
 * and phrases without ever seeing a word.
 *
 * Both sides are handed to PostgreSQL as tsvector / tsquery literals (`::tsvector`, `::tsquery`), not through
 * to_tsvector / to_tsquery: the text parser splits some hex strings (`12e45abc…` reads as a number and a word),
 * which would shift positions and break phrases.
 */

/** Normalised words of a text: Unicode NFKC, lower case, split on everything that is not a letter, mark or digit. */
export function searchWords(text: string): string[] {
  // ASCII text (most transcripts) is its own NFKC form, and its letters, marks and digits are [a-z0-9] once lower
  // case: the same words, without the Unicode passes (indexing is on the path of every projected report).
  if (ASCII.test(text)) return text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
  return text.normalize('NFKC').toLowerCase().match(/[\p{L}\p{M}\p{N}]+/gu) ?? [];
}

const ASCII = /^[\x00-\x7f]*$/;

/**
 * Blinded tokens of words already seen, per search key: transcripts share most of their words, and one HMAC per
 * word of every transcript is the dearest part of indexing (kept in memory only, cleared when it grows large).
 */
const memos = new WeakMap<Buffer, Map<string, string>>();
const MEMO_WORDS = 100_000;

function blind(key: Buffer, word: string): string {
  let memo = memos.get(key);
  if (!memo) memos.set(key, (memo = new Map()));
  let token = memo.get(word);
  if (token === undefined) {
    if (memo.size >= MEMO_WORDS) memo.clear();
    token = blindToken(key, word);
    memo.set(word, token);
  }
  return token;
}

/** A token as a tsvector/tsquery lexeme: blinded (hex) with a key, else the word itself (quoted). */
const lexeme = (key: Buffer | undefined, word: string) => (key ? blind(key, word) : `'${word.replaceAll("'", "''").replaceAll('\\', '\\\\')}'`);

/** PostgreSQL keeps positions up to this one (to_tsvector clamps later words to it too). */
const MAX_POSITION = 16383;

/**
 * The tsvector literal of a call's searchable texts (transcript, summary): each word's token with its
 * positions, in the order of the words. `key` undefined = unblinded words (only to measure the cost of blinding).
 */
export function searchVector(key: Buffer | undefined, texts: ReadonlyArray<string | null>): string {
  const positions = new Map<string, number[]>();
  let at = 0;
  for (const text of texts) {
    if (!text) continue;
    for (const word of searchWords(text)) {
      at = Math.min(at + 1, MAX_POSITION);
      const token = lexeme(key, word);
      const list = positions.get(token);
      if (!list) positions.set(token, [at]);
      else if (list[list.length - 1] !== at) list.push(at);
    }
  }
  return [...positions].map(([token, ps]) => `${token}:${ps.join(',')}`).join(' ');
}

/** One term of a query: a word or a "phrase" (its words must follow each other), maybe negated. */
interface Term {
  words: string[];
  negated: boolean;
}

/**
 * Parses `q` in web-search syntax the way websearch_to_tsquery('simple', q) does: words are ANDed,
 * "a quoted phrase" matches its words in order, `or` between two terms is OR, a leading `-` negates a term.
 * An unquoted term made of several words (`root-canal`) is a phrase of them. Anything else is ignored.
 * Returns the tsquery literal with every word blinded under `key`, or undefined when `q` has no word.
 */
export function blindQuery(key: Buffer, q: string): string | undefined {
  // Chunks: quoted phrases (an unclosed quote runs to the end) and whitespace-separated words, with leading dashes.
  const items: Array<Term | 'or'> = [];
  let pendingNot = false;
  for (const m of q.matchAll(/(-*)\s*"([^"]*)"?|([^\s"]+)/g)) {
    const quoted = m[2] !== undefined;
    const raw = quoted ? m[2]! : m[3]!;
    const dashes = quoted ? m[1]!.length : raw.length - raw.replace(/^-+/, '').length;
    const body = quoted ? raw : raw.slice(dashes);
    const words = searchWords(body);
    if (!quoted && dashes === 0 && body.toLowerCase() === 'or') {
      items.push('or');
      continue;
    }
    if (words.length === 0) {
      if (!quoted && body === '' && dashes % 2 === 1) pendingNot = !pendingNot; // a bare `-` negates the next term
      continue;
    }
    items.push({ words, negated: pendingNot !== (dashes % 2 === 1) });
    pendingNot = false;
  }
  // `or` is the operator between a term and what follows it; elsewhere (first, last, right after another
  // `or`) it is the word "or", as websearch_to_tsquery reads it.
  const out: string[] = [];
  let lastWasTerm = false;
  let orPending = false;
  items.forEach((item, i) => {
    if (item === 'or' && lastWasTerm && !orPending && i < items.length - 1) {
      orPending = true;
      return;
    }
    const term = item === 'or' ? { words: ['or'], negated: false } : item;
    if (lastWasTerm) out.push(orPending ? '|' : '&');
    orPending = false;
    const tokens = term.words.map((w) => blind(key, w));
    const text = tokens.length === 1 ? tokens[0]! : `( ${tokens.join(' <-> ')} )`;
    out.push(term.negated ? `!${text}` : text);
    lastWasTerm = true;
  });
  return out.length === 0 ? undefined : out.join(' ');
}

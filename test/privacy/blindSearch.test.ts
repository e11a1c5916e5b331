import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sql } from 'kysely';
import { blindQuery, searchVector, searchWords } from '../../src/privacy/blindSearch.ts';
import { blindToken, searchKey } from '../../src/privacy/crypto.ts';
import { pgliteBackend, type TestDb } from '../support/databases.ts';

/**
 * The blind search index reads queries and texts as PostgreSQL's 'simple' full-text search did: the same
 * query tree as websearch_to_tsquery('simple', q) and the same positions as to_tsvector('simple', text), with
 * every word replaced by its blinded token (checked against PostgreSQL itself, on PGlite).
 */

const key = searchKey(Buffer.alloc(32, 7));
const blindLexemes = (text: string) => text.replace(/'((?:[^']|'')*)'/g, (_, w: string) => blindToken(key, w.replaceAll("''", "'")));

const test = suite<{ t: TestDb }>('blind search (pure, against PostgreSQL)');
test.before(async (ctx) => {
  ctx.t = await pgliteBackend.open();
});
test.after(async (ctx) => {
  await ctx.t?.close();
});

test('queries: the tree websearch_to_tsquery builds, over blinded words', async ({ t }) => {
  const queries = [
    'crown', 'CROWN', 'root canal', 'cleaning -cancel', 'crown OR cancel', '"book a cleaning"', '"cleaning book"', 'a b or c', 'a or b c',
    'or a', 'a or', 'a or or b', '-a b', 'a -"b c"', '"a or b"', 'a OR -b', 'a "b', '- a', 'x & | !(', "don't stop", 'café naïve résumé',
    '12 monkeys', 'abc123 "x y z" or -w', '"" a', 'Crème BRÛLÉE',
  ];
  for (const q of queries) {
    const r = await sql<{ q: string }>`select websearch_to_tsquery('simple', ${q})::text as q`.execute(t.database.db);
    const expected = blindLexemes(r.rows[0]!.q);
    const mine = blindQuery(key, q);
    if (expected === '') {
      assert.is(mine, undefined, q);
      continue;
    }
    assert.ok(mine !== undefined, q);
    const norm = await sql<{ a: string; b: string }>`select ${mine}::tsquery::text as a, ${expected}::tsquery::text as b`.execute(t.database.db);
    assert.is(norm.rows[0]!.a, norm.rows[0]!.b, `${q} → ${mine}`);
    assert.match(mine, /^[0-9a-f!&|()<\->\s]+$/, 'only tokens and operators');
  }
  assert.is(blindQuery(key, '!!! & |'), undefined, 'no word, no query');
});

test('texts: the positions to_tsvector gives, over blinded words', async ({ t }) => {
  const texts = [
    'User: my crown fell off yesterday',
    'AI: Harbor Dental, Riley speaking. User: I want to book a cleaning, a cleaning on Tuesday!',
    "Caller can't come; café naïve 42 times, ÉCOLE",
  ];
  for (const text of texts) {
    const r = await sql<{ v: string }>`select to_tsvector('simple', ${text})::text as v`.execute(t.database.db);
    const mine = await sql<{ a: string; b: string }>`select ${searchVector(key, [text])}::tsvector::text as a, ${blindLexemes(r.rows[0]!.v)}::tsvector::text as b`.execute(t.database.db);
    assert.is(mine.rows[0]!.a, mine.rows[0]!.b, text);
  }
  // Transcript and summary: one vector, the summary's words after the transcript's.
  const both = await sql<{ v: string }>`select ${searchVector(key, ['a b', null, 'c'])}::tsvector::text as v`.execute(t.database.db);
  assert.is(both.rows[0]!.v, [`'${blindToken(key, 'a')}':1`, `'${blindToken(key, 'b')}':2`, `'${blindToken(key, 'c')}':3`].sort().join(' '));
  assert.is(searchVector(key, [null, null]), '');
});

test('words are normalised: NFKC, lower case, split on what is not a letter, mark or digit', () => {
  assert.equal(searchWords('Ｃｒｏｗｎ ﬁx—Root-Canal_x2 e\u0301'), ['crown', 'fix', 'root', 'canal', 'x2', 'é']);
  assert.is(blindQuery(key, 'ＣＲＯＷＮ'), blindQuery(key, 'crown'));
});

test('ASCII text splits into the same words as through the Unicode rules', () => {
  const unicode = (t: string) => t.normalize('NFKC').toLowerCase().match(/[\p{L}\p{M}\p{N}]+/gu) ?? [];
  const every = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)).join('');
  for (const t of [every, `${every}AbC9`, 'AI: Thank you for calling, ROOT-canal_x2 at 10:30?\n', '', '--  --']) assert.equal(searchWords(t), unicode(t), JSON.stringify(t));
  // One character outside ASCII sends the whole text through NFKC.
  assert.equal(searchWords('ﬁx AND Fix'), ['fix', 'and', 'fix']);
});

test.run();

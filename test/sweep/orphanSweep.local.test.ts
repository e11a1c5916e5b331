import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decideObject, sweepDay } from '../../src/commands/sweep.ts';
import { pgliteBackend } from '../support/databases.ts';
import { NOW, storageSuite } from './suites.ts';
import { DAY } from './support.ts';

/** The orphan sweep on local disk (temp dir) and PGlite, with an injected clock; plus the pure decision. */

function test_decide() {
  const test = suite('decideObject (pure)');
  const obj = (ageDays: number) => ({ path: 'org-a/2026/05/01/c.wav', bytes: 10, lastModified: new Date(NOW.getTime() - ageDays * DAY) });
  // With a 7-day limit: an object of this age, referenced by a call or not, gets this action.
  const rules: Array<[string, number, boolean, string]> = [
    ['referenced objects are kept whatever their age', 400, true, 'keep-referenced'],
    ['an unreferenced object older than the limit is an orphan', 7.5, false, 'delete'],
    ['one exactly at the limit is young', 7, false, 'keep-young'],
    ['one younger than the limit is young', 6.99, false, 'keep-young'],
    ['one modified "in the future" is young', -2, false, 'keep-young'],
  ];
  for (const [rule, ageDays, referenced, action] of rules) {
    test(rule, () => assert.is(decideObject(obj(ageDays), referenced, NOW, 7).action, action));
  }
  test('the decision carries the age in days', () => {
    assert.is(decideObject(obj(7.5), false, NOW, 7).ageDays, 7.5);
  });
  test('the sweep day is the UTC date', () => {
    assert.is(sweepDay(new Date('2026-05-20T23:59:59.999Z')), '2026-05-20');
    assert.is(sweepDay(new Date('2026-05-21T00:00:00+02:00')), '2026-05-20');
  });
  test.run();
}


test_decide();
storageSuite(pgliteBackend, 'local').run();

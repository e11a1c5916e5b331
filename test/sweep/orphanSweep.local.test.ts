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
  test('referenced objects are kept whatever their age', () => {
    assert.is(decideObject(obj(400), true, NOW, 7).action, 'keep-referenced');
  });
  test('only objects strictly older than the limit are orphans', () => {
    assert.is(decideObject(obj(7.5), false, NOW, 7).action, 'delete');
    assert.is(decideObject(obj(7), false, NOW, 7).action, 'keep-young');
    assert.is(decideObject(obj(6.99), false, NOW, 7).action, 'keep-young');
    assert.is(decideObject(obj(-2), false, NOW, 7).action, 'keep-young'); // modified "in the future"
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

import assert from 'node:assert/strict';
import { RetainedBudget } from '../../src/mqtt/retained-budget.js';

describe('mqtt: the embedded broker retained budget', () => {
  // Each message counts its topic, its payload and 1 KiB of aedes's own: three of 1000 bytes fit in 7000.
  it('counts a topic once however often it is replaced, frees it when cleared', () => {
    const budget = new RetainedBudget(7000);
    assert.equal(budget.take('a', 1000), true);
    const one = budget.used;
    for (let i = 0; i < 10; i++) assert.equal(budget.take('a', 1000), true);
    assert.equal(budget.used, one);
    assert.equal(budget.take('b', 1000), true);
    assert.equal(budget.take('c', 1000), true);
    assert.equal(budget.take('d', 1000), false, 'a new topic over the budget');
    assert.equal(budget.take('a', 2000), false, 'a replacement that grows over the budget');
    assert.equal(budget.take('a', 10), true, 'a replacement that shrinks');
    assert.equal(budget.take('b', 0), true, 'a clear');
    assert.equal(budget.take('d', 1000), true, 'fits again once cleared');
    assert.equal(budget.take('never-kept', 0), true);
  });
});

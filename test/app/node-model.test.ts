import assert from 'node:assert/strict';
import { NodeModel, type NodeSnapshot } from '../../src/app/node-model.js';
import { parseConfig, resolveNodes } from '../../src/config/index.js';
import { FakeClock } from '../../src/util/fake-clock.js';

function model() {
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 12));
  const changes: { node: number; snap: NodeSnapshot }[] = [];
  const nodes = resolveNodes(parseConfig({ board: { type: 'simulator' } }));
  const m = new NodeModel(nodes, clock, (node, snap) => changes.push({ node, snap: structuredClone(snap) }));
  return { m, clock, changes };
}

describe('NodeModel (app/node-model.ts)', () => {
  it('starts every node unknown, not read yet, and publishes nothing before a reading', () => {
    const { m, changes } = model();
    assert.deepEqual(m.snapshot(3)?.state.state, 'unknown');
    assert.equal(m.snapshot(3)?.state.reason, 'not read yet');
    assert.equal(m.power(3), null);
    assert.equal(changes.length, 0);
  });

  it('a change is told once; the same value again tells nothing', () => {
    const { m, changes } = model();
    m.setPower(3, true);
    m.setPower(3, true);
    assert.equal(changes.length, 1);
    m.setState(3, 'on', 'mqtt', 'switched on');
    m.setState(3, 'on', 'mqtt', 'switched on');
    assert.equal(changes.length, 2);
    assert.equal(m.state(3), 'on');
  });

  it('keeps `since` while the state stays and renews it when the state changes', async () => {
    const { m, clock } = model();
    m.setState(2, 'on', 'board', 'the board reports it on');
    const since = m.snapshot(2)?.state.since;
    await clock.advance(5000);
    m.setState(2, 'on', 'mqtt', 'switched on');
    assert.equal(m.snapshot(2)?.state.since, since, 'same state, new reason: since kept');
    m.setState(2, 'off', 'mqtt', 'switched off');
    assert.notEqual(m.snapshot(2)?.state.since, since);
  });

  it('presence: learnt while powered, an unknown reading keeps the last value', () => {
    const { m, changes } = model();
    m.setPresent(4, true);
    m.setPresent(4, null);
    assert.equal(m.snapshot(4)?.present, true);
    assert.equal(changes.length, 1);
  });

  it('a poll moves the state with power changed outside: off, starting with an agent, on without', () => {
    const { m } = model();
    m.observe(1, true, false);
    assert.equal(m.state(1), 'on');
    m.observe(2, true, true);
    assert.equal(m.state(2), 'starting', 'an agent node is starting until its agent is online');
    m.observe(1, false, false);
    assert.equal(m.state(1), 'off');
    m.observe(5, null, false);
    assert.equal(m.state(5), 'unknown');
  });

  it('a poll leaves shutting_down and rebooting to their sequence', () => {
    const { m } = model();
    m.observe(3, true, true);
    m.setState(3, 'shutting_down', 'mqtt', 'agent asked to shut the OS down');
    m.observe(3, false, true);
    assert.equal(m.state(3), 'shutting_down');
    assert.equal(m.power(3), false, 'power itself is still taken from the reading');
    m.setState(6, 'rebooting', 'mqtt', 'power cycle');
    m.observe(6, false, false);
    assert.equal(m.state(6), 'rebooting');
  });

  it('ignores node numbers the board does not have', () => {
    const { m, changes } = model();
    m.setPower(9, true);
    m.setState(9, 'on', 'mqtt', 'x');
    m.setPresent(9, true);
    assert.equal(m.snapshot(9), undefined);
    assert.equal(changes.length, 0);
  });
});

import assert from 'node:assert/strict';
import type { AgentState } from '../../src/agent/state.js';
import { NodeModel, type NodeChange } from '../../src/app/node-model.js';
import { parseConfig, resolveNodes } from '../../src/config/index.js';
import { FakeClock } from '../../src/util/fake-clock.js';

/** A model of the simulator's 7 nodes; `agentNodes` are agent nodes whose agents say what `agents` holds. */
function model(agentNodes: number[] = []) {
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 12));
  const agents = new Map<number, AgentState>();
  const changes: { node: number; change: NodeChange }[] = [];
  const powers: string[] = [];
  const downs: number[] = [];
  const nodes = resolveNodes(parseConfig({ board: { type: 'simulator' } }));
  const m = new NodeModel(nodes, clock, {
    isAgentNode: (n) => agentNodes.includes(n),
    status: (n) => agents.get(n) ?? 'unknown',
  });
  m.listen({
    changed: (node, change) => changes.push({ node, change: structuredClone(change) }),
    power: (node, on) => powers.push(`${node} ${String(on)}`),
    expectDown: (node) => downs.push(node),
  });
  return { m, clock, changes, powers, downs, agents };
}

describe('NodeModel (app/node-model.ts)', () => {
  it("starts every node unknown, publishing nothing before a reading; a reading's source is startup", () => {
    const { m, changes } = model();
    assert.deepEqual(m.snapshot(3)?.state.state, 'unknown');
    assert.equal(changes.length, 0);
    assert.equal(m.snapshot(3)?.state.reason, 'not read yet');
    assert.equal(m.power(3), null);
    // The contract's sources only (docs/topics.md): the board's readings are the bridge's own doing.
    assert.equal(m.snapshot(3)?.state.source, 'startup');
    m.observe(3, true);
    assert.deepEqual(m.snapshot(3)?.state.source, 'startup');
    assert.equal(m.snapshot(3)?.state.reason, 'the board reports it on');
  });

  it('a change is told once, with only what changed; the same value again tells nothing', () => {
    const { m, changes } = model();
    m.setPower(3, true);
    m.setPower(3, true);
    assert.deepEqual([...changes], [{ node: 3, change: { power: true } }]);
    m.switchedOn(3, 'mqtt', 'switched on');
    m.switchedOn(3, 'mqtt', 'switched on');
    assert.equal(changes.length, 2);
    assert.deepEqual(Object.keys(changes[1]?.change ?? {}), ['state']);
    assert.equal(changes[1]?.change.state?.state, 'on');
    assert.equal(m.state(3), 'on');
  });

  it('power listeners (the watchdog) hear each real power change once, and no state change', () => {
    const { m, powers } = model();
    m.observe(3, true);
    m.observe(3, true);
    m.switchedOn(3, 'mqtt', 'switched on');
    m.setPower(3, false);
    m.switchedOff(3, 'mqtt', 'switched off');
    m.observe(3, false);
    m.observe(3, null);
    assert.deepEqual(powers, ['3 true', '3 false', '3 null']);
  });

  it('keeps `since` while the state stays and renews it when the state changes', async () => {
    const { m, clock } = model();
    m.observe(2, true);
    assert.equal(m.snapshot(2)?.state.reason, 'the board reports it on');
    const since = m.snapshot(2)?.state.since;
    await clock.advance(5000);
    m.switchedOn(2, 'mqtt', 'switched on');
    assert.equal(m.snapshot(2)?.state.since, since, 'same state, new reason: since kept');
    assert.equal(m.snapshot(2)?.state.reason, 'switched on');
    m.switchedOff(2, 'mqtt', 'switched off');
    assert.notEqual(m.snapshot(2)?.state.since, since);
  });

  it('presence: learnt while powered, an unknown reading keeps the last value', () => {
    const { m, changes } = model();
    m.setPresent(4, true);
    m.setPresent(4, null);
    assert.equal(m.snapshot(4)?.present, true);
    assert.deepEqual([...changes], [{ node: 4, change: { present: true } }]);
  });

  it('a poll moves the state with power changed outside: off, starting with an agent, on without', () => {
    const { m, agents } = model([2, 4]);
    m.observe(1, true);
    assert.equal(m.state(1), 'on');
    m.observe(2, true);
    assert.equal(m.state(2), 'starting', 'an agent node is starting until its agent is online');
    agents.set(4, 'online');
    m.observe(4, true);
    assert.equal(m.state(4), 'on', 'an agent node whose agent is online is on');
    m.observe(1, false);
    assert.equal(m.state(1), 'off');
    m.observe(5, null);
    assert.equal(m.state(5), 'unknown');
  });

  it("the agent's online moves a starting node to on, and nothing else", () => {
    const { m } = model([2, 3]);
    m.switchedOn(2, 'mqtt', 'switched on');
    assert.equal(m.state(2), 'starting');
    m.agentOnline(2);
    assert.equal(m.state(2), 'on');
    assert.equal(m.snapshot(2)?.state.reason, 'agent online');
    assert.equal(m.snapshot(2)?.state.source, 'mqtt', 'an agent seen on the broker is mqtt (docs/topics.md)');
    m.switchedOff(3, 'mqtt', 'switched off');
    m.agentOnline(3);
    assert.equal(m.state(3), 'off', 'an agent online does not switch an off node on');
  });

  it('a poll leaves shutting_down and rebooting to their sequence', () => {
    const { m } = model([3]);
    m.observe(3, true);
    m.shuttingDown(3, 'mqtt');
    assert.equal(m.snapshot(3)?.state.reason, 'agent asked to shut the OS down');
    m.observe(3, false);
    assert.equal(m.state(3), 'shutting_down');
    assert.equal(m.power(3), false, 'power itself is still taken from the reading');
    m.powerCycling(6, 'mqtt');
    m.observe(6, false);
    assert.equal(m.state(6), 'rebooting');
    assert.equal(m.snapshot(6)?.state.reason, 'power cycle');
  });

  it('a failed shutdown follows power, a failed reboot is unknown, a power cycle starts an agent node', () => {
    const { m } = model([5]);
    m.observe(3, true);
    m.shuttingDown(3, 'mqtt');
    m.shutdownFailed(3, 'mqtt', 'shutdown failed: timeout');
    assert.equal(m.state(3), 'on');
    m.setPower(3, false);
    m.shuttingDown(3, 'mqtt');
    m.shutdownFailed(3, 'mqtt', 'shutdown failed: stop');
    assert.equal(m.state(3), 'off');
    m.osRebooting(4, 'schedule');
    assert.equal(m.state(4), 'rebooting');
    m.rebootFailed(4, 'schedule', 'reboot: timeout');
    assert.equal(m.state(4), 'unknown');
    m.osRebooting(4, 'schedule');
    m.rebooted(4, 'schedule');
    assert.equal(m.state(4), 'on');
    m.powerCycling(5, 'policy');
    m.switchedOn(5, 'policy', 'power cycled');
    assert.equal(m.state(5), 'starting');
    assert.equal(m.snapshot(5)?.state.source, 'policy');
  });

  it('a failed shutdown of a node whose power is unknown is unknown, not on', () => {
    const { m } = model([3]);
    m.observe(3, true);
    m.shuttingDown(3, 'mqtt');
    m.setPower(3, null);
    m.shutdownFailed(3, 'mqtt', 'cutting power failed: timeout');
    assert.equal(m.state(3), 'unknown');
  });

  it('power unknown after a write: power and state unknown, a busy state left to its sequence', () => {
    const { m, powers } = model();
    m.observe(2, false);
    m.powerUnknown(2, 'switching on failed: timeout');
    assert.equal(m.power(2), null);
    assert.equal(m.state(2), 'unknown');
    assert.equal(m.snapshot(2)?.state.reason, 'switching on failed: timeout');
    assert.deepEqual(powers, ['2 false', '2 null']);
    m.observe(4, true);
    m.powerCycling(4, 'mqtt');
    m.powerUnknown(4, 'switching off failed: timeout');
    assert.equal(m.state(4), 'rebooting');
  });

  it('tells the watchdog of a deliberate down: a cut, a shutdown, a power cycle (not an OS reboot)', () => {
    const { m, downs } = model([3]);
    m.cutting(1);
    m.shuttingDown(3, 'mqtt');
    m.powerCycling(4, 'policy');
    m.osRebooting(5, 'mqtt');
    m.cutting(9);
    assert.deepEqual(downs, [1, 3, 4]);
  });

  it('ignores node numbers the board does not have', () => {
    const { m, changes, powers } = model();
    m.setPower(9, true);
    m.switchedOn(9, 'mqtt', 'x');
    m.setPresent(9, true);
    assert.equal(m.snapshot(9), undefined);
    assert.equal(changes.length, 0);
    assert.equal(powers.length, 0);
  });
});

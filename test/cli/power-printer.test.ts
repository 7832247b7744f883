import assert from 'node:assert/strict';
import { powerPrinter } from '../../src/cli/power-client.js';

/**
 * What `turingpi-mqtt power` prints from the events of its action and the bridge's answer (the
 * whole CLI against a bridge: test/integration/cli-progress.test.ts). Seen in the tour: `power 6 on`
 * right after an OFF printed "delayed 2600ms by min_off_time" twice, the progress and the final
 * "ok" event saying the same.
 */
function printed(run: (p: ReturnType<typeof powerPrinter>) => void): string[] {
  const lines: string[] = [];
  run(powerPrinter((line) => lines.push(line)));
  return lines;
}

describe('turingpi-mqtt power: what it prints', () => {
  it('a step repeated by the final event of the same node is printed once; the answer follows', () => {
    const lines = printed((p) => {
      p.event({ node: 6, result: 'progress', message: 'delayed 2600ms by min_off_time' });
      p.event({ node: 6, result: 'ok', message: 'delayed 2600ms by min_off_time' });
      p.answer({ status: 'ok', data: { node: 6, power: 'ON', state: 'on' } });
    });
    assert.deepEqual(lines, ['node 6: delayed 2600ms by min_off_time', 'node 6: ON (on)']);
  });

  it('the same words for two nodes are two lines, and a step said again later is printed again', () => {
    const lines = printed((p) => {
      p.event({ node: 2, result: 'progress', message: 'switched on' });
      p.event({ node: 3, result: 'progress', message: 'switched on' });
      p.event({ node: 2, result: 'progress', message: 'waiting' });
      p.event({ node: 2, result: 'progress', message: 'switched on' });
    });
    assert.deepEqual(lines, ['node 2: switched on', 'node 3: switched on', 'node 2: waiting', 'node 2: switched on']);
  });

  it('a refused action says why once; an error no step printed is printed as the answer', () => {
    const refused = printed((p) => {
      p.event({ node: 1, result: 'error', error: 'node 1 is protected' });
      p.answer({ status: 'error', error: 'node 1 is protected' });
    });
    assert.deepEqual(refused, ['node 1: error: node 1 is protected']);
    const unknown = printed((p) => p.answer({ status: 'error', error: 'unknown node 9' }));
    assert.deepEqual(unknown, ['error: unknown node 9']);
  });

  it("an answer's note that the node's last step said is not said again: power 2 on of a node already on", () => {
    const lines = printed((p) => {
      p.event({ node: 2, result: 'ok', message: 'already on' });
      p.answer({ status: 'ok', data: { node: 2, power: 'ON', state: 'on', note: 'already on' } });
    });
    assert.deepEqual(lines, ['node 2: already on', 'node 2: ON (on)']);
    const delayed = printed((p) => {
      p.event({ node: 6, result: 'progress', message: 'delayed 1.4s by min_off_time' });
      p.answer({ status: 'ok', data: { node: 6, power: 'ON', state: 'on', note: 'delayed 1.4s by min_off_time' } });
    });
    assert.deepEqual(delayed, ['node 6: delayed 1.4s by min_off_time', 'node 6: ON (on)']);
    const unsaid = printed((p) => p.answer({ status: 'ok', data: { node: 4, power: 'ON', state: 'on', note: 'x' } }));
    assert.deepEqual(unsaid, ['node 4: ON (on), x']);
  });

  it('an "all" that failed on some nodes prints what the others did, and each refusal once', () => {
    const lines = printed((p) => {
      p.event({ node: 2, result: 'error', error: 'node 2 is off: REBOOT does not switch it on' });
      p.event({ node: 6, result: 'ok', message: 'power cycled' });
      p.answer({
        status: 'error',
        error: 'node 2 is off: REBOOT does not switch it on; node 7: the bus failed',
        data: [
          { node: 2, power: 'OFF', state: 'off', error: 'node 2 is off: REBOOT does not switch it on' },
          { node: 6, power: 'ON', state: 'on', note: 'power cycled' },
          { node: 7, power: null, state: 'unknown', error: 'node 7: the bus failed' },
        ],
      });
    });
    assert.deepEqual(lines, [
      'node 2: error: node 2 is off: REBOOT does not switch it on',
      'node 6: power cycled',
      'node 6: ON (on)',
      'node 7: error: node 7: the bus failed',
    ]);
  });
});

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
});

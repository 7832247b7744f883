import assert from 'node:assert/strict';
import { latencyTrialRows, targetOrder, type TrialResult } from './latency-trials.js';
import { bounded, percentile } from './stats.js';

describe('bench: how a target is judged', () => {
  it('judges the exact ratio, not the printed one', () => {
    const over = bounded('figure', 'ms', 1.154, 1, 1.15);
    assert.equal(over.ratio, 1.15);
    assert.equal(over.met, false);
    assert.equal(bounded('figure', 'ms', 1.15, 1, 1.15).met, true);
    assert.equal(bounded('figure', 'ms', 1, 0, 1.15).met, false);
  });

  it('takes the p50 nearest-rank', () => {
    assert.equal(percentile([5, 1, 3, 2, 4], 50), 3);
    assert.equal(percentile([1, 2, 3, 4], 50), 2);
  });

  it("pools the trials' commands for the latency target and keeps each trial's ratios", () => {
    const trial = (bridge: number[], contract: number[]): TrialResult<'bridge' | 'echo' | 'contract' | 'control'> => ({
      ms: { bridge, echo: contract, contract, control: contract },
      cpuUs: { bridge: 100, echo: 50, contract: 80, control: 80 },
    });
    // Alone, the first trial misses the bound (1.2x) and the second meets it (1.0x); pooled,
    // the p50 of the bridge's six commands (1.1) over that of the contract floor's (1.0).
    const { rows, results } = latencyTrialRows([trial([1.1, 1.2, 1.3], [0.9, 1, 1.1]), trial([1, 1, 1.1], [1, 1, 1])]);
    const target = rows[0];
    assert.equal(target?.value, 1.1);
    assert.equal(target?.floor, 1);
    assert.equal(target?.met, true);
    assert.match(target?.note ?? '', /each trial alone: 1\.00-1\.20x/);
    const trials = results.latency_trials as { ratio_per_trial: number[]; control_ratio_per_trial: number[] };
    assert.deepEqual(trials.ratio_per_trial, [1.2, 1]);
    assert.deepEqual(trials.control_ratio_per_trial, [1, 1]);
  });

  it("turns the order of the trials' processes, so that over eight trials each holds every place twice", () => {
    const orders = Array.from({ length: 8 }, (_, i) => targetOrder(i));
    for (const order of orders) assert.deepEqual([...order].sort(), ['bridge', 'contract', 'control', 'echo']);
    for (const key of ['bridge', 'echo', 'contract', 'control'] as const) {
      const places = orders.map((order) => order.indexOf(key)).sort();
      assert.deepEqual(places, [0, 0, 1, 1, 2, 2, 3, 3], key);
    }
  });
});

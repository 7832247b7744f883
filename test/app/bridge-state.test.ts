import assert from 'node:assert/strict';
import { defaultBridgeState, parseBridgeState } from '../../src/app/bridge-state.js';

describe('bridge.json (app/bridge-state.ts)', () => {
  it('a file of an older release, without published_nodes, reads as none published', () => {
    const { published_nodes: _, ...older } = defaultBridgeState();
    assert.deepEqual(parseBridgeState(older)?.published_nodes, []);
  });

  it('keeps only node numbers a board may have in published_nodes: a damaged list clears nothing else', () => {
    const state = { ...defaultBridgeState(), published_nodes: [1, 6, 0, -2, 2.5, '7', null, 1024, 1025, 1e9] };
    assert.deepEqual(parseBridgeState(state)?.published_nodes, [1, 6, 1024]);
  });
  it('keeps the watchdog power cycles as times: an older file has none, a damaged entry is dropped', () => {
    const { watchdog_cycles: _, ...older } = defaultBridgeState();
    assert.deepEqual(parseBridgeState(older)?.watchdog_cycles, []);
    const damaged = {
      ...defaultBridgeState(),
      watchdog_cycles: [1_700_000_000_000, '5', null, Infinity, 1_700_000_100_000],
    };
    assert.deepEqual(parseBridgeState(damaged)?.watchdog_cycles, [1_700_000_000_000, 1_700_000_100_000]);
    const many = { ...defaultBridgeState(), watchdog_cycles: Array.from({ length: 5000 }, (_x, i) => i) };
    assert.equal(parseBridgeState(many)?.watchdog_cycles.length, 60, 'no more than max_per_hour can use');
  });
});

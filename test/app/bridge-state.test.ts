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
});

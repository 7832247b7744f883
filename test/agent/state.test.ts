import assert from 'node:assert/strict';
import { AGENT_STATES, parseAgentState } from '../../src/agent/state.js';

describe('agent/state words', () => {
  it('are online, shutting_down and offline', () => {
    assert.deepEqual([...AGENT_STATES], ['online', 'shutting_down', 'offline']);
  });

  it('parses each word, white space around it ignored', () => {
    for (const word of AGENT_STATES) {
      assert.equal(parseAgentState(word), word);
      assert.equal(parseAgentState(` ${word}\n`), word);
    }
  });

  it('refuses anything else: other case, unknown words, JSON, empty', () => {
    for (const payload of ['ONLINE', 'unknown', 'shutting down', '{"state":"online"}', '', 'online offline']) {
      assert.equal(parseAgentState(payload), undefined, payload);
    }
  });
});

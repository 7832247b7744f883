import assert from 'node:assert/strict';
import { parseActionName, parseSetPayload } from '../../src/power/types.js';

describe('power words (power/types.ts)', () => {
  it('node/<n>/set takes its words in any case, with white space, and - for _ (as requests do)', () => {
    assert.equal(parseSetPayload('ON'), 'on');
    assert.equal(parseSetPayload(' off\n'), 'off');
    assert.equal(parseSetPayload('FORCE_OFF'), 'force-off');
    assert.equal(parseSetPayload('Force_Off'), 'force-off');
    assert.equal(parseSetPayload('force-off'), 'force-off');
    assert.equal(parseSetPayload('shutdown'), 'shutdown');
  });

  it('node/<n>/set refuses what is not one of its words: status is a request, not a set', () => {
    for (const word of ['STATUS', 'FORCE OFF', 'FORCEOFF', 'ON!', '', '-', 'force--off'])
      assert.equal(parseSetPayload(word), undefined, word);
  });

  it('an action name of a request or the command line takes either spelling', () => {
    assert.equal(parseActionName('FORCE_OFF'), 'force-off');
    assert.equal(parseActionName('force-off'), 'force-off');
    assert.equal(parseActionName('Status'), 'status');
    assert.equal(parseActionName('forceoff'), undefined);
  });
});

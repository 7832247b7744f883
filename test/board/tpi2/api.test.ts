import assert from 'node:assert/strict';
import { errorAnswerMessage, parseNodeInfoAnswer, parsePowerAnswer } from '../../../src/board/tpi2/api.js';
import { TpmError } from '../../../src/util/errors.js';

describe('BMC answer shapes', () => {
  it('reads string power values and "Unknown"', () => {
    const body = { response: [{ result: [{ node1: '1', node2: 'Unknown', node3: '0', node4: '1' }] }] };
    assert.deepEqual(parsePowerAnswer(body), [true, null, false, true]);
  });

  it('describes an unexpected shape instead of guessing', () => {
    assert.throws(
      () => parsePowerAnswer({ response: [{ result: 'ok' }] }),
      (error: TpmError) => error.code === 'BMC' && error.message.includes('{response:[{result:string}]}'),
    );
    assert.throws(
      () => parsePowerAnswer({ response: [{ result: [{ node1: 'on', node2: '0', node3: '0', node4: '0' }] }] }),
      (error: TpmError) => error.code === 'BMC' && /"on" for node 1/.test(error.message),
    );
  });

  it('recognises firmware 1.x numbers', () => {
    assert.throws(
      () => parsePowerAnswer({ response: [{ node1: 1, node2: 0, node3: 0, node4: 0 }] }),
      (error: TpmError) => error.code === 'BMC_UNSUPPORTED',
    );
  });

  it('reads power_on_time per node, null where off', () => {
    const entry = (seconds: number | null) => ({ name: 'n', module_name: '', power_on_time: seconds, uart_baud: 115200 });
    assert.deepEqual(parseNodeInfoAnswer({ response: [{ result: [entry(5), entry(null), entry(null), entry(3600)] }] }), [
      5,
      null,
      null,
      3600,
    ]);
  });

  it('takes the message of an error answer from its result', () => {
    assert.equal(errorAnswerMessage('{"response":[{"result":"Missing `node` parameter"}]}'), 'Missing `node` parameter');
    assert.equal(errorAnswerMessage('credentials incorrect'), 'credentials incorrect');
  });
});

import assert from 'node:assert/strict';
import type { Logger as PinoLogger } from 'pino';
import { escapeControl } from '../../src/util/printable.js';
import { captureLogger } from '../support/log-capture.js';

describe('control characters never reach a log line', () => {
  it('escapes C0 and C1 controls, DEL and the Unicode line separators; keeps other text', () => {
    assert.equal(escapeControl('tp/bridge/request/x\n{"level":50}'), 'tp/bridge/request/x\\n{"level":50}');
    assert.equal(escapeControl('\u001b[2J\r\t\u0000\u007f\u0085\u2028'), '\\x1b[2J\\r\\t\\x00\\x7f\\x85\\u2028');
    assert.equal(escapeControl('node/ünïcode/°C'), 'node/ünïcode/°C');
  });

  it('the logger escapes them in every message, whatever module logs it', () => {
    const log = captureLogger();
    const topic = 'tp/node/2/set\nFAKE: bridge online\u001b[31m';
    log.logger.error(`command on ${topic} failed`);
    // pino's format arguments, which our Logger type leaves out, are escaped too.
    (log.logger as PinoLogger).warn({ part: 'mqtt' }, `handling ${topic} failed: %s`, 'x\ny');
    const messages = log.messages();
    assert.deepEqual(messages, [
      'command on tp/node/2/set\\nFAKE: bridge online\\x1b[31m failed',
      'handling tp/node/2/set\\nFAKE: bridge online\\x1b[31m failed: x\\ny',
    ]);
    // eslint-disable-next-line no-control-regex
    for (const message of messages) assert.doesNotMatch(message, /[\u0000-\u001f]/);
  });
});

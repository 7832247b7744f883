import assert from 'node:assert/strict';
import {
  InputError,
  MAX_PAYLOAD_BYTES,
  knownKeys,
  payloadText,
  powerRequest,
  quote,
  requestObject,
  transactionOf,
  UnreadPayload,
} from '../../src/app/input.js';

const refused = (fn: () => unknown, message: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof InputError && message.test(e.message));

describe('input parsing (app/input.ts)', () => {
  it('payloadText takes up to 1 KiB of readable text, and refuses more or binary junk', () => {
    assert.equal(payloadText(Buffer.from(' ON\n')), ' ON\n');
    assert.equal(payloadText(Buffer.alloc(MAX_PAYLOAD_BYTES, 0x41)).length, 1024);
    refused(() => payloadText(Buffer.alloc(MAX_PAYLOAD_BYTES + 1, 0x41)), /1025 bytes refused: at most 1024 bytes/);
    refused(() => payloadText(Buffer.from([0xff, 0xfe, 0x4f])), /not readable text/);
    refused(() => payloadText(Buffer.from('O\u0000N')), /not readable text/);
    assert.equal(payloadText(Buffer.from('{"a":\t1}\r\n')), '{"a":\t1}\r\n');
  });

  it('requestObject takes a JSON object and refuses anything else, spaces alone too', () => {
    refused(
      () => requestObject(Buffer.from(' \n ')),
      /^payload is blank: a request needs a JSON object, \{\} at least$/,
    );
    assert.deepEqual(requestObject(Buffer.from(' {"node": 3} ')), { node: 3 });
    refused(() => requestObject(Buffer.from('{node: 3}')), /not valid JSON/);
    for (const text of ['[1]', '3', '"x"', 'null'])
      refused(() => requestObject(Buffer.from(text)), /must be a JSON object/);
  });

  it('a payload dropped unread for its size is refused as any payload over 1 KiB, with its size', () => {
    refused(() => payloadText(new UnreadPayload(300_000)), /^payload of 300000 bytes refused: at most 1024 bytes$/);
    refused(() => requestObject(new UnreadPayload(2_000_000)), /^payload of 2000000 bytes refused/);
    assert.equal(payloadText(Buffer.alloc(0)), '', 'an empty payload read is only empty');
  });

  it('transactionOf echoes short strings and finite numbers, and refuses any other transaction', () => {
    assert.equal(transactionOf({ transaction: 'abc' }), 'abc');
    assert.equal(transactionOf({ transaction: 7 }), 7);
    assert.equal(transactionOf({}), undefined);
    const must = /"transaction" must be a string of at most 128 characters or a number/;
    refused(() => transactionOf({ transaction: 'x'.repeat(129) }), must);
    refused(() => transactionOf({ transaction: Number.POSITIVE_INFINITY }), must);
    refused(() => transactionOf({ transaction: { a: 1 } }), must);
    refused(() => transactionOf({ transaction: null }), must);
  });

  it('knownKeys allows the listed keys and transaction, and names the others', () => {
    knownKeys({ node: 1, transaction: 't' }, ['node']);
    refused(() => knownKeys({ node: 1, force: true }, ['node']), /unknown field "force"/);
    refused(() => knownKeys({ a: 1, b: 2 }, []), /unknown fields "a", "b"/);
  });

  it('powerRequest takes a node number, a numeric string or "all", and an action in any case or spelling', () => {
    assert.deepEqual(powerRequest({ node: 3, action: 'OFF' }), { node: 3, action: 'off' });
    assert.deepEqual(powerRequest({ node: '12', action: 'force-off' }), { node: 12, action: 'force-off' });
    assert.deepEqual(powerRequest({ node: 'all', action: 'status' }), { node: 'all', action: 'status' });
    for (const node of [0, -1, 2.5, '03', 'x', null, undefined, true])
      refused(() => powerRequest({ node, action: 'on' }), /"node" must be/);
    // The set topic's spelling too, as every "use FORCE_OFF" message puts it.
    assert.deepEqual(powerRequest({ node: 2, action: 'FORCE_OFF' }), { node: 2, action: 'force-off' });
    assert.deepEqual(powerRequest({ node: 2, action: 'force_off' }), { node: 2, action: 'force-off' });
    for (const action of ['explode', 3, undefined, 'force off', 'forceoff', ''])
      refused(() => powerRequest({ node: 1, action }), /"action" must be one of/);
    refused(() => powerRequest({ node: 1, action: 'on', extra: 1 }), /unknown field "extra"/);
  });

  it('quote renders untrusted text short and printable', () => {
    assert.equal(quote('ON'), '"ON"');
    assert.equal(quote('a\u0000b\u00e9'), '"a?b?"');
    assert.equal(quote('x'.repeat(50)), `"${'x'.repeat(40)}…"`);
  });
});

import assert from 'node:assert/strict';
import { errorAnswerMessage, parseNodeInfo, parsePowerAnswer } from '../../../src/board/tpi2/api.js';
import { firmwareLine, parseAboutAnswer } from '../../../src/board/tpi2/firmware.js';
import { parseUsbAnswer } from '../../../src/board/tpi2/usb.js';
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
    const entry = (seconds: number | null) => ({
      name: 'n',
      module_name: '',
      power_on_time: seconds,
      uart_baud: 115200,
    });
    assert.deepEqual(
      parseNodeInfo({ response: [{ result: [entry(5), entry(null), entry(null), entry(3600)] }] }),
      [5, null, null, 3600].map((powerOnSeconds) => ({ powerOnSeconds, name: 'n' })),
    );
  });

  it('takes the message of an error answer from its result', () => {
    assert.equal(
      errorAnswerMessage('{"response":[{"result":"Missing `node` parameter"}]}'),
      'Missing `node` parameter',
    );
    assert.equal(errorAnswerMessage('credentials incorrect'), 'credentials incorrect');
  });

  it('reads about in both shapes: bmcd in version (up to 2.3.4) or in bmcd_version (later)', () => {
    const board = { board_model: 'Turing Pi 2', board_revision: '2.5.1', hostname: 'tp' };
    const old = {
      api: '1.1',
      version: '2.3.4',
      buildtime: 'x',
      buildroot: 'Buildroot',
      build_version: '2024.05.1',
      ...board,
    };
    assert.deepEqual(parseAboutAnswer({ response: [{ result: old }] }), {
      bmcd: '2.3.4',
      os: '2024.05.1',
      boardModel: 'Turing Pi 2',
      boardRevision: '2.5.1',
    });
    const empty = { board_model: '', board_revision: '', hostname: '' };
    const later = {
      api: '1.1',
      version: '2.1.0',
      bmcd_version: '2.3.7',
      buildtime: 'x',
      buildroot: 'Buildroot',
      ...empty,
    };
    assert.deepEqual(parseAboutAnswer({ response: [{ result: later }] }), {
      bmcd: '2.3.7',
      os: '2.1.0',
      boardModel: null,
      boardRevision: null,
    });
    assert.throws(
      () => parseAboutAnswer({ response: [{ result: 'ok' }] }),
      (error: TpmError) => error.code === 'BMC',
    );
  });

  it('derives the firmware line from the bmcd version, never from the OS release', () => {
    assert.equal(firmwareLine('2.0.5'), '2.0.5');
    assert.equal(firmwareLine('2.3.4'), '2.1');
    assert.equal(firmwareLine('2.1.0'), '2.1');
    assert.equal(firmwareLine('2024.05.1'), null);
    assert.equal(firmwareLine('3.0.0'), null);
    assert.equal(firmwareLine(null), null);
  });

  it('takes a power_on_time that makes no sense as unknown, and names as given', () => {
    const entry = (seconds: number | null, name: string | null = null): string =>
      JSON.stringify({ name, module_name: null, power_on_time: seconds, uart_baud: null });
    // The wrapped u64 written exactly, as serde_json writes it.
    const wrapped = '{"name":"","module_name":null,"power_on_time":18446744073709541658,"uart_baud":null}';
    const entries = [entry(7, 'k3s'), wrapped, entry(1.7e9), entry(-1)].join(',');
    const body = JSON.parse(`{"response":[{"result":[${entries}]}]}`) as unknown;
    assert.deepEqual(parseNodeInfo(body), [
      { powerOnSeconds: 7, name: 'k3s' },
      { powerOnSeconds: null, name: null },
      { powerOnSeconds: null, name: null },
      { powerOnSeconds: null, name: null },
    ]);
  });

  it('reads usb in the shapes of bmcd 2.0.5 and 2.3', () => {
    assert.deepEqual(parseUsbAnswer({ response: [{ result: [{ mode: 'Host', node: 'Node 3', route: 'UsbA' }] }] }), {
      reading: { node: 3, mode: 'host', route: 'port' },
      busType: null,
    });
    assert.deepEqual(
      parseUsbAnswer({
        response: [{ result: [{ mode: 'Flash', node: 'Node 1', route: 'Bmc', bus_type: 'Usb hub' }] }],
      }),
      {
        reading: { node: 1, mode: 'flash', route: 'bmc' },
        busType: 'Usb hub',
      },
    );
    assert.throws(
      () => parseUsbAnswer({ response: [{ result: [{ mode: 'Host', node: '3', route: 'UsbA' }] }] }),
      (error: TpmError) => error.code === 'BMC',
    );
  });
});

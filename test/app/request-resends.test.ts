import assert from 'node:assert/strict';
import { RESEND_WINDOW_MS, TakenRequests } from '../../src/app/request-resends.js';

describe('requests sent again (app/request-resends.ts)', () => {
  it('knows the same action, transaction and payload within the window, and nothing else', async () => {
    let now = 0;
    const taken = new TakenRequests(() => now);
    const text = '{"transaction":"t","node":3,"action":"reboot"}';
    taken.take('power', 't', text)({ status: 'ok', data: 1 });
    assert.deepEqual(await taken.earlier('power', 't', text), { status: 'ok', data: 1 });
    assert.equal(taken.earlier('power', 't', '{"transaction":"t","node":4,"action":"reboot"}'), undefined);
    assert.equal(taken.earlier('status', 't', text), undefined);
    assert.equal(taken.earlier('power', undefined, text), undefined);
    now = RESEND_WINDOW_MS + 1;
    assert.equal(taken.earlier('power', 't', text), undefined, 'forgotten after the window');
  });

  it('tells a number from its text, keeps the first answer, remembers none without a transaction', async () => {
    const taken = new TakenRequests();
    const settle = taken.take('status', 7, '{}');
    settle({ status: 'ok' });
    settle({ status: 'error' });
    assert.equal(taken.earlier('status', '7', '{}'), undefined);
    assert.deepEqual(await taken.earlier('status', 7, '{}'), { status: 'ok' });
    taken.forget('status', 7);
    assert.equal(taken.earlier('status', 7, '{}'), undefined, 'forgotten: refused for its input');
    taken.take('status', undefined, '{}')({ status: 'ok' });
    assert.equal(taken.earlier('status', undefined, '{}'), undefined);
  });

  it('remembers at most 200 requests, forgetting the oldest', () => {
    const taken = new TakenRequests();
    for (let i = 0; i < 201; i++) taken.take('status', i, '{}')({ status: 'ok' });
    assert.equal(taken.earlier('status', 0, '{}'), undefined);
    assert.ok(taken.earlier('status', 1, '{}'));
    assert.ok(taken.earlier('status', 200, '{}'));
  });

  it('knows a request sent again after a step of the system clock (NTP setting the time)', async () => {
    const wallClock = Date.now;
    let step = 0;
    // The process's own Date.now, stepped as the system's clock is by NTP or `date -s`.
    Date.now = () => wallClock() + step;
    try {
      const taken = new TakenRequests();
      const text = '{"transaction":"t","node":3,"action":"reboot"}';
      taken.take('power', 't', text)({ status: 'ok' });
      step = 365 * 24 * 3_600_000;
      assert.deepEqual(await taken.earlier('power', 't', text), { status: 'ok' }, 'a resend must not reboot twice');
    } finally {
      Date.now = wallClock;
    }
  });
});

import assert from 'node:assert/strict';
import { AgentTracker } from '../../src/power/agents.js';
import { FakeClock } from '../../src/util/fake-clock.js';

/**
 * The race the graceful-shutdown e2e test found, pinned down without processes: a fast agent
 * answers (shutting_down, its failure, online again) while the bridge is still waiting for the
 * broker to acknowledge the command, i.e. before the bridge's wait is listening.
 */
describe('AgentTracker: what a fast agent says before the wait begins is not lost', () => {
  const options = (failIf?: (s: string) => string | undefined) => ({
    timeoutMs: 120_000,
    timeoutMessage: 'timed out',
    ...(failIf ? { failIf } : {}),
  });

  /** The tracker as the bridge builds it; the agent "answers" while the command is being sent. */
  function trackerWithAgent(answer: (tracker: AgentTracker) => void): { tracker: AgentTracker; clock: FakeClock } {
    const clock = new FakeClock();
    const tracker: AgentTracker = new AgentTracker(clock, async () => {
      answer(tracker);
    });
    tracker.update(3, 'online');
    return { tracker, clock };
  }

  it("a failure reported before the wait rejects the wait with the agent's reason", async () => {
    const { tracker } = trackerWithAgent((t) => {
      t.update(3, 'shutting_down');
      t.reportFailure(3, 'exited with code 1: Access denied');
      t.update(3, 'online');
    });
    await tracker.command(3, 'SHUTDOWN');
    await assert.rejects(
      tracker.waitFor(3, (s) => s === 'offline', options()),
      /Access denied/,
    );
  });

  it('shutting_down then online before the wait is a failed command, not a wait until the time-out', async () => {
    const { tracker } = trackerWithAgent((t) => {
      t.update(3, 'shutting_down');
      t.update(3, 'online');
    });
    await tracker.command(3, 'SHUTDOWN');
    // The power service's rule: online after shutting_down means the command failed.
    let acknowledged = false;
    const failIf = (s: string): string | undefined => {
      if (s === 'shutting_down') acknowledged = true;
      return s === 'online' && acknowledged ? 'went back online' : undefined;
    };
    await assert.rejects(
      tracker.waitFor(3, (s) => s === 'offline', options(failIf)),
      /went back online/,
    );
  });

  it('an agent already gone before the wait ends it at once', async () => {
    const { tracker } = trackerWithAgent((t) => {
      t.update(3, 'shutting_down');
      t.update(3, 'offline');
    });
    await tracker.command(3, 'SHUTDOWN');
    await tracker.waitFor(3, (s) => s === 'offline', options());
  });

  it('what was said before the previous command does not count for the next one', async () => {
    let failNext = true;
    const { tracker, clock } = trackerWithAgent((t) => {
      if (failNext) {
        t.update(3, 'shutting_down');
        t.reportFailure(3, 'first attempt failed');
        t.update(3, 'online');
      }
    });
    await tracker.command(3, 'SHUTDOWN');
    await assert.rejects(
      tracker.waitFor(3, (s) => s === 'offline', options()),
      /first attempt failed/,
    );

    failNext = false;
    await tracker.command(3, 'SHUTDOWN');
    const waiting = tracker.waitFor(3, (s) => s === 'offline', options());
    tracker.update(3, 'shutting_down');
    tracker.update(3, 'offline');
    await waiting;
    assert.equal(clock.now(), new FakeClock().now(), 'no time had to pass');
  });
});

describe('AgentTracker.waitGone: the broker lost', () => {
  const gone = (deadline: number) => ({ settleMs: 5000, deadline, timeoutMessage: 'timed out' });

  it('an agent gone before the broker was lost stays gone, however often the loss is told', async () => {
    const clock = new FakeClock();
    const tracker = new AgentTracker(clock, async () => undefined);
    tracker.update(3, 'online');
    await tracker.command(3, 'SHUTDOWN');
    tracker.update(3, 'shutting_down');
    tracker.update(3, 'offline');
    // Lost before the wait listens: the replay ends with it, and the status now says it again.
    tracker.connectionLost();
    let ended: string | undefined;
    const waiting = tracker.waitGone(3, gone(clock.now() + 30_000)).then(
      () => (ended = 'gone'),
      (error: Error) => (ended = error.message),
    );
    tracker.connectionLost();
    // The broker is back with the agent's offline: a whole settle_time, then the agent is gone.
    tracker.update(3, 'offline');
    await clock.advance(5000);
    const afterSettle = ended;
    await clock.advance(30_000);
    await waiting;
    assert.equal(afterSettle, 'gone', `still waiting settle_time after the offline; then: ${ended}`);
  });
});

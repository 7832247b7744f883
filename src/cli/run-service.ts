import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';

export interface Service {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** SIGINT and SIGTERM, listened to from the first step of a service's start. */
export interface StopSignals {
  /** The first signal received, if any. */
  readonly asked: string | undefined;
  /** Called at each signal from now on. */
  onStop(handler: (signal: string) => void): void;
}

/**
 * Listens at once, before the config is read: a service manager's stop in that time (systemd
 * sends it to the config child too) would otherwise kill the process by the signal, not end it
 * with exit 0 as a stop does.
 */
export function listenForStop(): StopSignals {
  let asked: string | undefined;
  let handler: ((signal: string) => void) | undefined;
  const received = (signal: string): void => {
    asked ??= signal;
    handler?.(signal);
  };
  process.on('SIGINT', () => received('SIGINT'));
  process.on('SIGTERM', () => received('SIGTERM'));
  return {
    get asked() {
      return asked;
    },
    onStop: (h) => (handler = h),
  };
}

/**
 * Runs a service until SIGINT/SIGTERM. A stop never touches power; a hard reboot under way
 * finishes first. The hard-exit timer is the last resort (homebridge's habit). A signal received
 * before (while the config was read) ends it at once: nothing was opened yet.
 */
export async function runService(
  service: Service,
  logger: Logger,
  graceMs: number,
  signals: StopSignals,
  reportStartError: (error: unknown) => number,
): Promise<number> {
  if (signals.asked !== undefined) {
    logger.info(`${signals.asked}: stopping`);
    return 0;
  }
  let stopping = false;
  const done = new Promise<number>((resolve) => {
    signals.onStop((signal) => {
      if (stopping) return;
      stopping = true;
      logger.info(`${signal}: stopping`);
      setTimeout(() => {
        logger.error('stop took too long: exiting anyway');
        process.exit(1);
      }, graceMs).unref();
      service.stop().then(
        () => resolve(0),
        (error: unknown) => {
          logger.error(`stop failed: ${errorMessage(error)}`);
          resolve(1);
        },
      );
    });
  });
  // A signal while the start still waits (for a broker that refuses us, say) stops at once:
  // the start then rejects with STOPPED, which is no failure to report.
  let startError: unknown;
  const started = service.start().then(
    () => 'started' as const,
    (error: unknown) => {
      startError = error;
      return 'failed' as const;
    },
  );
  const first = await Promise.race([started, done.then(() => 'stopped' as const)]);
  if (first === 'failed' && !stopping) {
    stopping = true;
    await service.stop().catch(() => undefined);
    return reportStartError(startError);
  }
  return done;
}

import { rmSync } from 'node:fs';
import { startAedes, type TestBroker } from './aedes.js';
import { tempDir } from './cli.js';

/** What brokerAndFolder() sets up for each test. */
export interface BrokerAndFolder {
  /** An in-process aedes broker of the test's own. */
  readonly broker: TestBroker;
  /** An empty temporary folder of the test's own (a state_dir goes below it). */
  readonly dir: string;
}

/**
 * For the tests of the describe block it is called in: a broker and an empty folder before each
 * test (beforeEach), the broker closed and the folder removed after it (afterEach).
 */
export function brokerAndFolder(): BrokerAndFolder {
  let broker: TestBroker | undefined;
  let dir: string | undefined;
  beforeEach(async () => {
    broker = await startAedes();
    dir = tempDir();
  });
  afterEach(async () => {
    await broker?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    broker = undefined;
    dir = undefined;
  });
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`no ${what}: brokerAndFolder() gives one inside a test only`);
    return value;
  };
  return {
    get broker() {
      return ready(broker, 'broker');
    },
    get dir() {
      return ready(dir, 'folder');
    },
  };
}

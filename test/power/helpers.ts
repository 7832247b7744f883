import { NodeModel } from '../../src/app/node-model.js';
import { createSimulatedTpi1, type SimulatedTpi1 } from '../../src/board/simulator/tpi1.js';
import { memoryBudgetStore } from '../../src/board/tpi1/eeprom-budget.js';
import { Tpi1Driver } from '../../src/board/tpi1/driver.js';
import { resolveNodes } from '../../src/config/nodes.js';
import { parseConfig } from '../../src/config/parse.js';
import { AgentTracker } from '../../src/power/agents.js';
import type { JournalEntry } from '../../src/power/journal.js';
import { PowerService } from '../../src/power/power-service.js';
import type { EventInput } from '../../src/power/types.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { silentLogger } from '../../src/util/logger.js';

export interface Write {
  node: number;
  on: boolean;
  at: number;
  /** The clock's monotonic reading at the write (unmoved by a step of the wall clock). */
  mono: number;
}

export interface Rig {
  clock: FakeClock;
  sim: SimulatedTpi1;
  driver: Tpi1Driver;
  service: PowerService;
  /** The bridge's node model: power as read back, and the lifecycle the service's actions lead to. */
  view: NodeModel;
  events: EventInput[];
  /** Every setPower the service made, with the fake time it started. */
  writes: Write[];
  /** The most setPower calls under way at once. */
  maxConcurrentWrites: number;
  agents: AgentTracker;
  /** Words sent to agents. */
  sent: { node: number; word: string }[];
  journal: JournalEntry[];
  /** The simulated hardware's power of a node (the truth, not the service's view). */
  powered(node: number): boolean | null;
  /** Lets a promise finish while fake time moves on in small steps; fails if it never does. */
  finish<T>(promise: Promise<T>, limitMs?: number): Promise<T>;
  /** Switches a node directly on the simulated board (not through the service) and reads back. */
  setDirectly(node: number, on: boolean): Promise<void>;
  /** Switches a node on the simulated board as another tool would: the service's view is not told (no poll yet). */
  switchElsewhere(node: number, on: boolean): Promise<void>;
}

/**
 * A PowerService over the real Tpi1Driver on the simulated Turing Pi 1 (all nodes on at the
 * start), with a fake clock. `config` is a config object as in YAML (power, nodes);
 * `journalBegin` / `journalEnd` stand for the journal's writes (a failing or slow SD card).
 */
export async function rig(
  config: Record<string, unknown> = {},
  options: {
    journalBegin?: (entry: JournalEntry) => Promise<void>;
    journalEnd?: (entry: JournalEntry) => Promise<void>;
    /** The save of a node's last commanded power (restore_on_start: last). */
    commanded?: (node: number, on: boolean) => Promise<void>;
  } = {},
): Promise<Rig> {
  const parsed = parseConfig({ board: { type: 'simulator', simulate: { model: 'tpi1' } }, ...config });
  const clock = new FakeClock(Date.UTC(2026, 4, 4, 10, 0, 0));
  const sim = createSimulatedTpi1({ clock });
  const nodes = resolveNodes(parsed);
  const driver = new Tpi1Driver({
    bus: sim.bus,
    clock,
    logger: silentLogger(),
    persistPowerState: false,
    eepromWritesPerDay: 200,
    protectedNodes: nodes.filter((n) => n.protected).map((n) => n.number),
    lock: null,
    rtcOwnedByKernel: async () => false,
    budgetStore: memoryBudgetStore(),
  });
  const view = new NodeModel(nodes, clock);
  const events: EventInput[] = [];
  const writes: Write[] = [];
  const sent: { node: number; word: string }[] = [];
  const journal: JournalEntry[] = [];
  let active = 0;

  const finish = async <T>(promise: Promise<T>, limitMs = 600_000): Promise<T> => {
    let done = false;
    const outcome = promise.then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    void outcome.then(() => (done = true));
    for (let waited = 0; !done && waited <= limitMs; waited += 10) await clock.advance(10);
    if (!done) throw new Error(`did not finish within ${limitMs} ms of fake time`);
    const result = await outcome;
    if (!result.ok) throw result.error;
    return result.value;
  };

  await finish(driver.open());
  const reading = await finish(driver.readPower());
  for (const node of nodes) view.setPower(node.number, reading.power[node.number - 1] ?? null);

  // Watch every write the service makes, and how many overlap.
  const setPower = driver.setPower.bind(driver);
  driver.setPower = async (node: number, on: boolean): Promise<boolean> => {
    writes.push({ node, on, at: clock.now(), mono: clock.monotonic() });
    active++;
    result.maxConcurrentWrites = Math.max(result.maxConcurrentWrites, active);
    try {
      return await setPower(node, on);
    } finally {
      active--;
    }
  };

  const agents = new AgentTracker(clock, async (node, word) => {
    sent.push({ node, word });
  });
  const service = new PowerService({
    driver,
    nodes,
    power: parsed.power,
    clock,
    logger: silentLogger(),
    view,
    event: (e) => events.push(e),
    journal: {
      begin: async (entry) => {
        journal.push(entry);
        await options.journalBegin?.(entry);
      },
      end: options.journalEnd ?? (async () => undefined),
      commanded: options.commanded ?? (async () => undefined),
    },
    agents,
  });

  const result: Rig = {
    clock,
    sim,
    driver,
    service,
    view,
    events,
    writes,
    maxConcurrentWrites: 0,
    agents,
    sent,
    journal,
    powered: (n) => sim.ds4520.nodePowered(n),
    finish,
    setDirectly: async (node, on) => {
      await finish(setPower(node, on));
      view.setPower(node, on);
    },
    switchElsewhere: async (node, on) => {
      await finish(setPower(node, on));
    },
  };
  return result;
}

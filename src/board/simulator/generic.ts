import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { GpioLineConfig } from '../gpio/driver.js';
import type { GpioDirection, GpioFactory, GpioLine } from '../gpio/lines.js';

/**
 * `simulate.model: generic`: a home-made cluster of N nodes (1..1024) switched by GPIO
 * lines, simulated as the lines themselves (the onoff-like interface), so the real
 * GpioDriver runs on it (docs/ARCHITECTURE.md "The simulator"). Node n is on line n, active high.
 *
 * Each line behaves as sysfs GPIO does: an input reads the level its pull gives it (the
 * relay board's default: node off), opening as 'high'/'low' drives that level at once,
 * 'out' drives low, a write to an input fails, and unexporting turns an output back into an
 * input, which switches its node (docs/hardware.md "GPIO-switched clusters"); every handle on a
 * line unexported since it was opened (by any program) then fails with ENODEV, as its value file is gone.
 */
export interface SimulatedGpioFaults {
  /** Lines whose writes are silently ignored (a dead relay): read-back catches it. */
  stuck?: number[];
  /** Lines that cannot be opened (EACCES, as without the gpio group). */
  noPermission?: number[];
}

export interface SimulatedGpioOptions {
  nodes: number;
  /** JSON file keeping driven levels, so power survives a restart of the simulator. */
  stateFile?: string | null;
  faults?: SimulatedGpioFaults;
}

interface LineState {
  direction: 'in' | 'out';
  /** Driven level while an output. */
  level: 0 | 1;
}

export interface SimulatedGpioLines {
  /** The factory to give GpioDriver as `gpio`. */
  gpio: GpioFactory;
  /** The probe to give GpioDriver as `currentLevel`: the level without touching the line. */
  currentLevel: (line: number) => Promise<0 | 1 | null>;
  /** The config `board.gpio` equivalent: node n -> line n, active high. */
  mapping: Record<string, GpioLineConfig>;
  /** Physical level of a line (what the relay sees). */
  levelOf(line: number): 0 | 1;
  directionOf(line: number): 'in' | 'out';
  /** Whether node n gets power. */
  isOn(node: number): boolean;
  /** How often each direction was requested, and unexports, for tests. */
  stats: { opens: Record<GpioDirection, number>; writes: number; unexports: number; glitches: number };
}

/** Level of an input line: the relay boards' pull keeps nodes off. */
const PULL_LEVEL = 0;

export function createSimulatedGpioLines(options: SimulatedGpioOptions): SimulatedGpioLines {
  const { nodes } = options;
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 1024) {
    throw new RangeError(`simulate.nodes must be 1-1024 (got ${nodes})`);
  }
  const stuck = new Set(options.faults?.stuck ?? []);
  const noPermission = new Set(options.faults?.noPermission ?? []);
  const lines = new Map<number, LineState>();
  for (let line = 1; line <= nodes; line++) lines.set(line, { direction: 'in', level: 0 });
  loadState(options.stateFile, lines);
  /** How often each line was unexported: a handle from before an unexport is stale. */
  const unexported = new Map<number, number>();
  const stats = { opens: { in: 0, out: 0, high: 0, low: 0 }, writes: 0, unexports: 0, glitches: 0 };
  // Many lines change together when a large board opens: one save per turn of the event loop.
  let savePending = false;
  const scheduleSave = (): void => {
    if (!options.stateFile || savePending) return;
    savePending = true;
    queueMicrotask(() => {
      savePending = false;
      saveState(options.stateFile, lines);
    });
  };

  const stateOf = (line: number): LineState => {
    const state = lines.get(line);
    if (!state)
      throw Object.assign(new Error(`EINVAL: no GPIO line ${line} on the simulated board`), { code: 'EINVAL' });
    return state;
  };
  const levelOf = (line: number): 0 | 1 => {
    const state = stateOf(line);
    return state.direction === 'out' ? state.level : PULL_LEVEL;
  };
  /** Applies a change and notes a glitch when the node's level flipped without a write. */
  const change = (line: number, next: LineState, byWrite: boolean): void => {
    const previous = stateOf(line);
    const before = levelOf(line);
    lines.set(line, next);
    if (!byWrite && levelOf(line) !== before) stats.glitches++;
    if (previous.direction !== next.direction || previous.level !== next.level) scheduleSave();
  };

  const gpio: GpioFactory = (line, direction) => {
    stateOf(line);
    if (noPermission.has(line)) {
      throw Object.assign(new Error(`EACCES: permission denied, open '/sys/class/gpio/gpio${line}/value'`), {
        code: 'EACCES',
      });
    }
    stats.opens[direction]++;
    if (direction === 'in') change(line, { direction: 'in', level: 0 }, false);
    else change(line, { direction: 'out', level: direction === 'high' ? 1 : 0 }, false);
    let released = false;
    const generation = unexported.get(line) ?? 0;
    const gone = (): void => {
      if ((unexported.get(line) ?? 0) === generation) return;
      const path = `/sys/class/gpio/gpio${line}/value`;
      throw Object.assign(new Error(`ENODEV: no such device, ${path}`), { code: 'ENODEV' });
    };
    const handle: GpioLine = {
      // sysfs's value file reads at once: answered synchronously, as GpioLine allows.
      read: () => {
        gone();
        return levelOf(line);
      },
      write: async (value) => {
        if (released) throw new Error(`EINVAL: GPIO ${line} was unexported`);
        gone();
        if (stateOf(line).direction !== 'out') {
          throw Object.assign(new Error(`EPERM: GPIO ${line} is an input`), { code: 'EPERM' });
        }
        stats.writes++;
        if (stuck.has(line)) return;
        change(line, { direction: 'out', level: value === 1 ? 1 : 0 }, true);
      },
      unexport: () => {
        released = true;
        stats.unexports++;
        unexported.set(line, (unexported.get(line) ?? 0) + 1);
        change(line, { direction: 'in', level: 0 }, false);
      },
    };
    return handle;
  };

  return {
    gpio,
    currentLevel: async (line) => levelOf(line),
    mapping: genericGpioMapping(nodes),
    levelOf,
    directionOf: (line) => stateOf(line).direction,
    isOn: (node) => levelOf(node) === 1,
    stats,
  };
}

/** The `board.gpio` mapping of a generic board: node n -> line n, active high. */
function genericGpioMapping(nodes: number): Record<string, GpioLineConfig> {
  const mapping: Record<string, GpioLineConfig> = {};
  for (let node = 1; node <= nodes; node++) mapping[String(node)] = { line: node, active_low: false };
  return mapping;
}

function loadState(file: string | null | undefined, lines: Map<number, LineState>): void {
  if (!file) return;
  let saved: { outputs?: Record<string, number> };
  try {
    saved = JSON.parse(readFileSync(file, 'utf8')) as typeof saved;
  } catch {
    return; // first start, or an unreadable file: every line starts as an input
  }
  for (const [key, level] of Object.entries(saved.outputs ?? {})) {
    const state = lines.get(Number(key));
    if (state) lines.set(Number(key), { direction: 'out', level: level === 1 ? 1 : 0 });
  }
}

/** Driven lines stay driven across a restart, as exported sysfs outputs do. */
function saveState(file: string | null | undefined, lines: Map<number, LineState>): void {
  if (!file) return;
  const outputs: Record<string, number> = {};
  for (const [line, state] of lines) if (state.direction === 'out') outputs[String(line)] = state.level;
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, JSON.stringify({ outputs }));
  renameSync(temporary, file);
}

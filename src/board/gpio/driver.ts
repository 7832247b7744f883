import { systemClock, type Clock } from '../../util/clock.js';
import { TpmError, errorMessage } from '../../util/errors.js';
import { silentLogger, type Logger } from '../../util/logger.js';
import type { BoardDriver, BoardInfo, BoardType, PowerReading } from '../types.js';
import { onoffFactory, type GpioFactory, type GpioLine } from './lines.js';
import { DEFAULT_SYSFS_GPIO_ROOT, permissionOr, readSysfsAttribute, readSysfsLevel, socGpioBase } from './sysfs.js';

/** One node's line as in config `board.gpio` (BCM number). */
export interface GpioLineConfig {
  line: number;
  active_low: boolean;
}

export interface GpioDriverOptions {
  /** Config `board.gpio`: node number (as a string key) -> { line: BCM number, active_low }. */
  lines: Record<string, GpioLineConfig>;
  /** Injected line factory (the library's `deps.gpio`, docs/library.md); default: onoff, lazily imported. */
  gpio?: GpioFactory;
  /**
   * The current physical level of a sysfs-numbered line, read without changing it. Default:
   * from sysfs when sysfs is used (default factory or an explicit sysfsRoot); with an
   * injected factory and no probe, see `openLine`.
   */
  currentLevel?: (sysfsLine: number) => Promise<0 | 1 | null>;
  /**
   * Added to each BCM number to get the sysfs number. Default: the base of the SoC's
   * gpiochip from sysfs when sysfs is used, else 0 (an injected factory takes line numbers as given).
   */
  base?: number;
  /** Root of the sysfs GPIO tree (tests pass a fake one); default /sys/class/gpio. */
  sysfsRoot?: string;
  clock?: Clock;
  logger?: Logger;
  type?: BoardType;
  model?: string;
}

interface OpenLine {
  node: number;
  bcm: number;
  sysfs: number;
  activeLow: boolean;
  handle: GpioLine;
  /** The line as the config names it, for messages: "BCM 17, node 1". */
  label: string;
}

/**
 * Nodes switched by relay or MOSFET boards on GPIO lines (docs/hardware.md "GPIO-switched
 * clusters"): one output line per node, state read back from the line.
 */
export class GpioDriver implements BoardDriver {
  readonly info: BoardInfo;
  private readonly config: Map<number, GpioLineConfig>;
  private readonly factory: GpioFactory;
  /** The sysfs GPIO tree the lines are read and checked in; null where an injected factory alone is used. */
  private readonly sysfsRoot: string | null;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private lines = new Map<number, OpenLine>();
  /**
   * Lines opened by an open() that failed at a later line, kept for the retry: onoff frees a
   * line's value file only by unexporting it (which can switch its node), so opening it again
   * would leak a descriptor at every retry of the poll.
   */
  private partlyOpened = new Map<number, OpenLine>();

  constructor(private readonly options: GpioDriverOptions) {
    this.config = validateLines(options.lines);
    this.factory = options.gpio ?? onoffFactory();
    const usesSysfs = options.gpio === undefined || options.sysfsRoot !== undefined;
    this.sysfsRoot = usesSysfs ? (options.sysfsRoot ?? DEFAULT_SYSFS_GPIO_ROOT) : null;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger();
    this.info = {
      type: options.type ?? 'gpio',
      model: options.model ?? 'GPIO cluster',
      nodes: Math.max(0, ...this.config.keys()),
      hasRtc: false,
      canTellPresence: false,
      nativeReset: false,
      reportsPowerOnTime: false,
      hasFans: false,
    };
  }

  async open(): Promise<void> {
    if (this.lines.size > 0) return;
    const { base, ngpio } = await this.resolveChip();
    // Past the chip's last line, base + line is a line of the next chip (on a Pi 4 the firmware's
    // expander, which drives the camera, LEDs and more): never opened, whatever the config says.
    for (const [node, { line }] of this.config) {
      if (ngpio !== null && line >= ngpio) {
        // Guides for current kernels export base + BCM (529 for BCM 17): the number they show.
        const sysfsNumber = line >= base && line - base < ngpio;
        throw new TpmError(
          'CONFIG',
          `board.gpio.${node}.line: BCM ${line} is not a line of the chip that carries the header's GPIO ` +
            `(lines 0-${ngpio - 1}; the 40-pin header has BCM 0-27)` +
            (sysfsNumber
              ? `: ${line} is the sysfs number of BCM ${line - base} (base ${base}): write line: ${line - base}`
              : ''),
        );
      }
    }
    const opened = this.partlyOpened;
    for (const [node, { line, active_low: activeLow }] of this.config) {
      if (opened.has(node)) continue;
      const sysfs = base + line;
      const label = `BCM ${line}, node ${node}`;
      const handle = await this.openLine(sysfs, label);
      opened.set(node, { node, bcm: line, sysfs, activeLow, handle, label });
    }
    this.lines = opened;
    this.partlyOpened = new Map();
    this.logger.info({ nodes: opened.size, base }, 'GPIO lines opened as outputs at their current levels');
  }

  /**
   * Lines are deliberately left exported and driven: unexporting an output can turn it back
   * into an input, which switches its node (docs/hardware.md). Dropping the handles is all.
   */
  async close(): Promise<void> {
    this.lines = new Map();
  }

  async readPower(): Promise<PowerReading> {
    // Sized once: grown by push, the array of a 64-node board was copied as it grew, every poll.
    const power = new Array<boolean | null>(this.info.nodes).fill(null);
    for (let node = 1; node <= this.info.nodes; node++) {
      const line = this.lines.get(node);
      if (!line) continue;
      // A line that answers at once (a program's own GpioLine, the simulator) is not awaited:
      // a poll of a 64-node board made three promises a node, 42 KiB of garbage a poll.
      const raw = this.rawLevel(line);
      power[node - 1] = isOn(line, typeof raw === 'number' ? raw : await raw);
    }
    return { power };
  }

  async setPower(node: number, on: boolean): Promise<boolean> {
    const line = this.lineOf(node);
    if ((await this.readLine(line)) === on) return on;
    const raw = on !== line.activeLow ? 1 : 0;
    try {
      await line.handle.write(raw);
    } catch (error) {
      throw await this.writeFailed(error, line, on);
    }
    const after = await this.readLine(line);
    if (after !== on) {
      throw new TpmError(
        'VERIFY',
        `node ${node} did not switch ${on ? 'on' : 'off'}: GPIO ${line.bcm} reads back ${on ? 'off' : 'on'} ` +
          `after the write`,
      );
    }
    return after;
  }

  /**
   * sysfs refuses a write to an input's value with EPERM. The value file was opened when the line
   * was, so a missing group is not the reason: another program made the line an input. It is
   * left to that program; the next start opens it as an output at the level it has then.
   */
  private async writeFailed(error: unknown, line: OpenLine, on: boolean): Promise<TpmError> {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code !== 'EPERM' && code !== 'EACCES') return permissionOr(error, line.sysfs, line.label);
    const direction =
      this.sysfsRoot === null ? 'in' : await readSysfsAttribute(line.sysfs, 'direction', this.sysfsRoot);
    if (direction === 'out') return permissionOr(error, line.sysfs, line.label);
    return new TpmError(
      'BUS',
      `node ${line.node} was not switched ${on ? 'on' : 'off'}: GPIO ${line.label} (sysfs ${line.sysfs}) is an ` +
        'input now: another program changed its direction (the bridge leaves the line to it; the bridge ' +
        'opens it as an output again, at the level it has, when it next starts)',
      { cause: error },
    );
  }

  private lineOf(node: number): OpenLine {
    if (!Number.isInteger(node) || node < 1 || node > this.info.nodes) {
      throw new TpmError('BAD_COMMAND', `node must be 1-${this.info.nodes} on this GPIO board (got ${node})`);
    }
    const line = this.lines.get(node);
    if (line) return line;
    if (!this.config.has(node)) throw new TpmError('BAD_COMMAND', `node ${node} has no GPIO line in board.gpio`);
    throw new TpmError('STATE', 'the GPIO board is not open');
  }

  private async readLine(line: OpenLine): Promise<boolean> {
    return isOn(line, await this.rawLevel(line));
  }

  /** The line's level as onoff reads it (0 or 1): a number, or a promise of one. */
  private rawLevel(line: OpenLine): Promise<number> | number {
    const failed = (error: unknown): never => {
      throw permissionOr(error, line.sysfs, line.label);
    };
    try {
      const raw = line.handle.read();
      return typeof raw === 'number' ? raw : raw.catch(failed);
    } catch (error) {
      return failed(error);
    }
  }

  /** Where BCM line 0 is in sysfs, and how many lines follow it on that chip (null: unknown). */
  private async resolveChip(): Promise<{ base: number; ngpio: number | null }> {
    if (this.options.base !== undefined) return { base: this.options.base, ngpio: null };
    if (this.sysfsRoot === null) return { base: 0, ngpio: null };
    const chip = await socGpioBase(this.sysfsRoot);
    this.logger.debug({ chip: chip.name, label: chip.label, base: chip.base }, 'BCM lines are on this gpiochip');
    return chip;
  }

  /**
   * Opens a line as an output without glitching its node. Plain 'out' would drive it low at
   * once, switching a node that is on (or, active-low, one that is off). So the current level
   * is read first and the line is opened as 'high' or 'low' to match: the node keeps its
   * state, whether the line was already our output (bridge restart) or an input held by the
   * relay board's pull resistors (first start after boot).
   *
   * The level comes from sysfs without touching the pin. An injected factory without a
   * probe gets the fallback: open the line as an input, read it, then reopen it as an
   * output at that level. That is glitch-free for a line that is an input, and the best
   * available without a probe; real hardware always has the sysfs probe.
   */
  private async openLine(sysfs: number, which: string): Promise<GpioLine> {
    let level = await this.probe(sysfs, which);
    let handle: GpioLine;
    try {
      if (level === null) {
        const input = await this.factory(sysfs, 'in');
        level = (await input.read()) === 1 ? 1 : 0;
        this.logger.debug({ line: sysfs, level }, 'GPIO level read through an input, no probe available');
      }
      handle = await this.factory(sysfs, level === 1 ? 'high' : 'low');
    } catch (error) {
      throw permissionOr(error, sysfs, which);
    }
    // Verified, not trusted: onoff says nothing when it cannot set the direction of a line that
    // was exported already (ours, by the probe), and an input would take no command.
    const direction = this.sysfsRoot === null ? 'out' : await readSysfsAttribute(sysfs, 'direction', this.sysfsRoot);
    if (direction !== 'out' && direction !== null) {
      throw new TpmError(
        'BUS',
        `GPIO ${which} (sysfs ${sysfs}) is still an input after it was opened as an output: the bridge's user ` +
          `may not write ${this.sysfsRoot}/gpio${sysfs}/direction (the gpio ` +
          'group, docs/gpio.md), or another program holds the line',
      );
    }
    // onoff reads and writes the logical value. It resets active_low, silently where it cannot:
    // left at 1, "on" would drive the line off, and the read-back would agree with the write.
    if (this.sysfsRoot !== null && (await readSysfsAttribute(sysfs, 'active_low', this.sysfsRoot)) === '1') {
      throw new TpmError(
        'BUS',
        `GPIO ${which} (sysfs ${sysfs}) has active_low 1 in sysfs, which the bridge could not reset: every ` +
          `level would be read and written inverted. Write 0 to ${this.sysfsRoot}/gpio${sysfs}/active_low ` +
          '(the gpio group may write it, docs/gpio.md) and restart the bridge; board.gpio says which level is on',
      );
    }
    return handle;
  }

  private async probe(sysfs: number, which: string): Promise<0 | 1 | null> {
    if (this.options.currentLevel) return this.options.currentLevel(sysfs);
    if (this.sysfsRoot === null) return null;
    try {
      return await readSysfsLevel(sysfs, {
        root: this.sysfsRoot,
        clock: this.clock,
        line: which,
      });
    } catch (error) {
      if (error instanceof TpmError) throw error;
      this.logger.warn({ line: sysfs, reason: errorMessage(error) }, 'cannot read the GPIO level through sysfs');
      return null;
    }
  }
}

function validateLines(lines: Record<string, GpioLineConfig>): Map<number, GpioLineConfig> {
  const byNode = new Map<number, GpioLineConfig>();
  const nodeOfLine = new Map<number, number>();
  for (const [key, config] of Object.entries(lines)) {
    const node = Number(key);
    if (!Number.isInteger(node) || node < 1 || node > 1024) {
      throw new TpmError('CONFIG', `board.gpio: node keys are node numbers 1-1024 (got "${key}")`);
    }
    // The config's range of BCM numbers (0-1023) is the schema's, checked by validate and the
    // start alike; here any line number is taken, as the generic simulator numbers its lines
    // 1-1024 (node n on line n) and must start with simulate.nodes: 1024.
    if (!Number.isInteger(config.line) || config.line < 0) {
      throw new TpmError('CONFIG', `board.gpio.${key}.line must be a line number, 0 or more (got ${config.line})`);
    }
    const other = nodeOfLine.get(config.line);
    if (other !== undefined) {
      throw new TpmError('CONFIG', `board.gpio: nodes ${other} and ${node} both use GPIO ${config.line}`);
    }
    nodeOfLine.set(config.line, node);
    byNode.set(node, { line: config.line, active_low: config.active_low === true });
  }
  if (byNode.size === 0)
    throw new TpmError('CONFIG', 'board.gpio names no node: give each node its { line: <BCM number> }');
  return new Map([...byNode].sort((a, b) => a[0] - b[0]));
}

/** Whether a line's raw level means its node is powered (active_low inverts it). */
function isOn(line: OpenLine, raw: number): boolean {
  return (raw === 1) !== line.activeLow;
}

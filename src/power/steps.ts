import type { ResolvedNode } from '../config/nodes.js';
import type { Config } from '../config/schema.js';
import { TpmError } from '../util/errors.js';
import type { NodeAction } from './types.js';

/** What an action comes to once toggle, off_mode and reboot_mode are resolved. */
export type Step = 'on' | 'graceful-off' | 'cut' | 'graceful-reboot' | 'hard-reboot';

/**
 * toggle and off follow the current power and off_mode; what is left are concrete steps.
 * `current`: the node's power as the bridge knows it; `hasAgent`: it is an agent node now.
 */
export function resolveStep(
  node: ResolvedNode,
  action: NodeAction,
  current: boolean | null,
  power: Config['power'],
  hasAgent: boolean,
): Step {
  switch (action) {
    case 'on':
      return 'on';
    case 'toggle':
      if (current === null) throw new TpmError('BAD_COMMAND', `node ${node.number}'s power is unknown; say ON or OFF`);
      return current ? resolveStep(node, 'off', current, power, hasAgent) : 'on';
    case 'off':
      return power.off_mode === 'graceful' && hasAgent ? 'graceful-off' : 'cut';
    case 'shutdown':
      // Shuts the OS down: never a power cut without it. A node already off has nothing to shut down.
      if (hasAgent) return 'graceful-off';
      // Already off: nothing to shut down. Protected: refused as such by checkProtected.
      if (current === false || node.protected) return 'cut';
      throw new TpmError('AGENT', noAgentMessage(node));
    case 'force-off':
      return 'cut';
    case 'reboot':
      if (current !== true) throw nodeOffError(node.number);
      return power.reboot_mode === 'graceful' && hasAgent ? 'graceful-reboot' : 'hard-reboot';
    case 'status':
      throw new TpmError('BAD_COMMAND', 'status is not a power change');
  }
}

/** A protected node is never switched off by a command: only ON and an agent's reboot reach it. */
export function checkProtected(node: ResolvedNode, step: Step, action: NodeAction): void {
  if (!node.protected) return;
  if (step === 'on' || step === 'graceful-reboot') return;
  const word = action === 'toggle' ? 'TOGGLE (off)' : action.toUpperCase().replace('-', '_');
  throw new TpmError(
    'PROTECTED',
    `node ${node.number} is protected: ${word} refused (set nodes.${node.number}.protected: false to allow it)`,
  );
}

/** SHUTDOWN of a node without an agent: refused (power stays on), saying why and what cuts instead. */
export function noAgentMessage(node: ResolvedNode): string {
  const n = node.number;
  const why = node.agent === 'auto' ? `no agent has been seen on node ${n}` : `nodes.${n}.agent is false`;
  return (
    `node ${n} has no agent (${why}): SHUTDOWN shuts the OS down and needs the agent; nothing was cut; ` +
    'use FORCE_OFF (or OFF) to cut power without an OS shutdown'
  );
}

/** REBOOT of a node that is off: refused, never a switch on. */
export function nodeOffError(n: number): TpmError {
  return new TpmError('NODE_OFF', `node ${n} is off: REBOOT does not switch it on (say ON)`);
}

/** The states a poll leaves to the sequence under way (docs/ARCHITECTURE.md, "Node lifecycle"). */
export function inSequence(state: string): boolean {
  return state === 'shutting_down' || state === 'rebooting';
}

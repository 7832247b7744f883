import type { Config, NodeList } from './schema.js';

export type AgentSetting = boolean | 'auto';

/** One node slot with its settings resolved (defaults per board, docs/configuration.md). */
export interface ResolvedNode {
  number: number;
  /** The configured name, or "Node n". */
  name: string;
  protected: boolean;
  /**
   * The configured `agent`: true or false as said, or 'auto' (the default): an agent node once
   * its agent has been seen (power/agent-nodes.ts decides, at run time).
   */
  agent: AgentSetting;
  enabled: boolean;
}

/** The board model a config drives: simulated boards behave as the model they simulate. */
function boardModel(config: Config): 'tpi1' | 'tpi2' | 'gpio' {
  if (config.board.type === 'simulator')
    return config.board.simulate.model === 'generic' ? 'gpio' : config.board.simulate.model;
  return config.board.type;
}

/** How many node slots the configured board has. */
export function boardNodeCount(config: Config): number {
  const { board } = config;
  switch (board.type) {
    case 'tpi1':
      return 7;
    case 'tpi2':
      return 4;
    case 'gpio': {
      const numbers = Object.keys(board.gpio).map(Number);
      return numbers.length === 0 ? 0 : Math.max(...numbers);
    }
    case 'simulator':
      if (board.simulate.model === 'tpi1') return 7;
      if (board.simulate.model === 'tpi2') return 4;
      return board.simulate.nodes ?? 8;
  }
}

/** Every slot of the board, numbered 1..n, with its settings. A gpio board's unwired slots are disabled. */
export function resolveNodes(config: Config): ResolvedNode[] {
  const count = boardNodeCount(config);
  const nodes: ResolvedNode[] = [];
  for (let number = 1; number <= count; number++) {
    const settings = config.nodes[String(number)] ?? null;
    const wired = config.board.type !== 'gpio' || config.board.gpio[String(number)] !== undefined;
    // docs/hardware.md: a tpi1 whose master (node 1) is switched off cannot recover by itself.
    const protectedByDefault = boardModel(config) === 'tpi1' && number === 1;
    nodes.push({
      number,
      name: settings?.name ?? `Node ${number}`,
      protected: settings?.protected ?? protectedByDefault,
      agent: settings?.agent ?? 'auto',
      enabled: wired && (settings?.enabled ?? true),
    });
  }
  return nodes;
}

/**
 * The slot numbered `n`, or undefined when `n` is no node of this board: the one check every
 * command, request and agent topic goes through before anything acts on a node.
 */
export function findNode(nodes: readonly ResolvedNode[], n: unknown): ResolvedNode | undefined {
  return typeof n === 'number' ? nodes.find((node) => node.number === n) : undefined;
}

/** The refusal of a number that is no node of this board; `what` is what was asked (`9`, `in "tp/node/9/set"`). */
export function unknownNodeMessage(nodes: readonly ResolvedNode[], what: string): string {
  return `unknown node ${what}: this board has nodes 1-${nodes.length}`;
}

/** The node numbers a list names: "all" is every enabled, non-protected node (docs/configuration.md). */
export function expandNodeList(list: NodeList, nodes: ResolvedNode[]): number[] {
  if (list === 'all') return nodes.filter((n) => n.enabled && !n.protected).map((n) => n.number);
  return [...new Set(list)].sort((a, b) => a - b);
}

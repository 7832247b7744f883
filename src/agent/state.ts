/**
 * The words an agent publishes on `<b>/node/<n>/agent/state` (docs/topics.md): `online`,
 * `shutting_down` while its shutdown or reboot command runs, and `offline` (also its last
 * will). The agent, the bridge's tracker and the watchdog all use this one type.
 */
export const AGENT_STATES = ['online', 'shutting_down', 'offline'] as const;

export type AgentState = (typeof AGENT_STATES)[number];

/** The state an `agent/state` payload says (surrounding white space ignored), or undefined. */
export function parseAgentState(payload: string): AgentState | undefined {
  const word = payload.trim();
  return (AGENT_STATES as readonly string[]).includes(word) ? (word as AgentState) : undefined;
}

/**
 * The mosquitto ACL of docs/security.md ("Securing the broker"), built for a base topic
 * so that the suite tests exactly the text it documents. Only the bridge and Home Assistant
 * may publish commands, the CLI's user only requests; each agent only its own node's agent
 * topics; anyone else nothing.
 */
export function mosquittoAcl(base: string, agents: number[]): string {
  const lines = [
    '# The bridge: its whole base topic, and Home Assistant discovery.',
    'user turingpi-bridge',
    `topic readwrite ${base}/#`,
    'topic readwrite homeassistant/#',
    '',
    '# Home Assistant: reads every state, sends commands and requests.',
    'user homeassistant',
    `topic read ${base}/#`,
    `topic write ${base}/node/+/set`,
    `topic write ${base}/bridge/request/#`,
    `topic write ${base}/bridge/maintenance/set`,
    `topic write ${base}/rtc/set`,
    `topic write ${base}/schedule/+/set`,
    `topic write ${base}/board/fan/set`,
    `topic write ${base}/board/usb/set`,
    'topic readwrite homeassistant/#',
    '',
    '# turingpi-mqtt power: asks the bridge and follows its answer, its steps and whether it is online.',
    'user turingpi-cli',
    `topic write ${base}/bridge/request/power`,
    `topic read ${base}/bridge/response/#`,
    `topic read ${base}/bridge/event`,
    `topic read ${base}/bridge/state`,
  ];
  for (const n of agents) {
    lines.push(
      '',
      `# The agent of node ${n}: its own topics only (one block per node with an agent).`,
      `user turingpi-agent-${n}`,
      `topic read ${base}/node/${n}/agent/command`,
      `topic write ${base}/node/${n}/agent/state`,
      `topic write ${base}/node/${n}/agent/telemetry`,
      `topic write ${base}/node/${n}/agent/event`,
    );
  }
  return `${lines.join('\n')}\n`;
}

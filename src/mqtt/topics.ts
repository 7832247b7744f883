/**
 * Every topic of docs/topics.md built in one place, so that no module spells a topic by hand.
 * `base` is mqtt.base_topic.
 */
export function topics(base: string) {
  const node = (n: number) => `${base}/node/${n}`;
  return {
    bridgeState: `${base}/bridge/state`,
    bridgeInfo: `${base}/bridge/info`,
    bridgeEvent: `${base}/bridge/event`,
    maintenance: `${base}/bridge/maintenance`,
    maintenanceSet: `${base}/bridge/maintenance/set`,
    request: (action: string) => `${base}/bridge/request/${action}`,
    requestWildcard: `${base}/bridge/request/#`,
    requestPrefix: `${base}/bridge/request/`,
    response: (action: string) => `${base}/bridge/response/${action}`,
    boardState: `${base}/board/state`,
    /** The BMC login's state (tpi2): JSON {login, reason, failures, firmware, bmcd}. */
    boardBmc: `${base}/board/bmc`,
    nodePrefix: `${base}/node/`,
    nodePower: (n: number) => `${node(n)}/power`,
    nodeState: (n: number) => `${node(n)}/state`,
    nodePresent: (n: number) => `${node(n)}/present`,
    nodeSet: (n: number) => `${node(n)}/set`,
    nodeSetWildcard: `${base}/node/+/set`,
    agentState: (n: number) => `${node(n)}/agent/state`,
    agentStateWildcard: `${base}/node/+/agent/state`,
    agentTelemetry: (n: number) => `${node(n)}/agent/telemetry`,
    agentTelemetryWildcard: `${base}/node/+/agent/telemetry`,
    agentCommand: (n: number) => `${node(n)}/agent/command`,
    agentEvent: (n: number) => `${node(n)}/agent/event`,
    agentEventWildcard: `${base}/node/+/agent/event`,
    nodeBooted: (n: number) => `${node(n)}/booted`,
    fan: `${base}/board/fan`,
    fanSet: `${base}/board/fan/set`,
    usb: `${base}/board/usb`,
    usbSet: `${base}/board/usb/set`,
    rtc: `${base}/rtc`,
    rtcSet: `${base}/rtc/set`,
    schedule: (name: string) => `${base}/schedule/${name}`,
    scheduleSet: (name: string) => `${base}/schedule/${name}/set`,
    scheduleSetWildcard: `${base}/schedule/+/set`,
  };
}

export type Topics = ReturnType<typeof topics>;

/** The node number in `<base>/node/<n>/<suffix>`, or undefined when the topic is not of that shape. */
export function nodeFromTopic(t: Topics, topic: string, suffix: string): number | undefined {
  if (!topic.startsWith(t.nodePrefix) || !topic.endsWith(`/${suffix}`)) return undefined;
  const middle = topic.slice(t.nodePrefix.length, topic.length - suffix.length - 1);
  return /^[1-9][0-9]{0,3}$/.test(middle) ? Number(middle) : undefined;
}

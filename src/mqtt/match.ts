/**
 * MQTT topic filter matching (`+` one level, `#` the rest), for routing incoming messages, on
 * topics already split into levels: a connection splits each filter once when it subscribes
 * and each incoming topic once, not both for every handler of every message.
 */
export function levelsMatch(filter: readonly string[], topic: readonly string[]): boolean {
  for (let i = 0; i < filter.length; i++) {
    const part = filter[i];
    if (part === '#') return true;
    if (i >= topic.length) return false;
    if (part !== '+' && part !== topic[i]) return false;
  }
  return filter.length === topic.length;
}

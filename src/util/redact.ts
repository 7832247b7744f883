/**
 * A URL as it may be shown: `mqtt://user:secret@host` becomes `mqtt://user:***@host`, so a
 * password written into mqtt.url or bmc.url never reaches a log line, an event or an error.
 */
export function displayUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/@\s]*)@/i, (_match, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return colon < 0 ? `${scheme}${userinfo}@` : `${scheme}${userinfo.slice(0, colon)}:***@`;
  });
}

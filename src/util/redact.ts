/**
 * A URL as it may be shown: `mqtt://user:secret@host` becomes `mqtt://user:***@host`, so a
 * password written into mqtt.url or bmc.url never reaches a log line, an event or an error.
 * The URL is parsed as the clients parse it (WHATWG `URL`): the user information ends at the
 * last `@` of the authority, so a password holding `@` is hidden whole.
 */
export function displayUrl(url: string): string {
  const password = urlPassword(url);
  if (password === undefined) return url;
  const parsed = new URL(url);
  parsed.password = '***';
  return parsed.href;
}

/** The password written into a URL (percent-decoded), or undefined when it has none. */
export function urlPassword(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.password === '') return undefined;
  try {
    return decodeURIComponent(parsed.password);
  } catch {
    return parsed.password;
  }
}

/**
 * A URL to publish as a link (Home Assistant's "Visit" of the board): without the user information,
 * which a link neither needs nor may carry to every reader of the broker. Unchanged when it has none.
 */
export function linkUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  if (parsed.username === '' && parsed.password === '') return url;
  parsed.username = '';
  parsed.password = '';
  return parsed.href;
}

/** CONNACK codes (MQTT 3.1.1 and 5) that mean the broker refused our credentials. */
const AUTH_CODES = new Set([4, 5, 134, 135]);

/** A reason a person can act on, without credentials. */
export function describeMqttError(error: Error & { code?: string | number }, url: string): string {
  const code = error.code;
  if (typeof code === 'number' && AUTH_CODES.has(code)) {
    // A user written into the URL (shown here with its password as ***) is where to look first.
    const where = /^[a-z]+:\/\/[^/@]*@/.test(url)
      ? 'the user and password in mqtt.url'
      : 'mqtt.username and mqtt.password';
    return `MQTT broker ${url} refused the credentials (not authorized): check ${where}`;
  }
  if (code === 'ECONNREFUSED')
    return `cannot connect to MQTT broker ${url}: connection refused (is the broker running?)`;
  if (code === 'ENOTFOUND') return `cannot connect to MQTT broker ${url}: host not found`;
  if (typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) {
    return `TLS to MQTT broker ${url} failed: ${error.message} (check mqtt.tls.ca)`;
  }
  return `MQTT broker ${url}: ${error.message}`;
}

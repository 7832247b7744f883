/** CONNACK codes (MQTT 3.1.1 and 5) that mean the broker refused our credentials. */
const AUTH_CODES = new Set([4, 5, 134, 135]);

/** TLS alerts by which a broker refuses the certificate this client gave (OpenSSL's names, as Node codes them). */
const CLIENT_CERTIFICATE_ALERT = new RegExp(
  '_ALERT_(BAD_CERTIFICATE|UNSUPPORTED_CERTIFICATE|CERTIFICATE_(REVOKED|EXPIRED|UNKNOWN)|UNKNOWN_CA)$',
);

type NodeError = Error & { code?: string | number; reason?: unknown };

/**
 * A reason a person can act on, without credentials. `connecting`: no CONNACK yet on this
 * connection (a reset then is most often the URL's scheme not matching the port).
 */
export function describeMqttError(error: NodeError, url: string, connecting = false): string {
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
  if (code === 'ECONNRESET' && connecting) return `${url} closed the connection at once: ${schemeHint(url)}`;
  if (typeof code === 'string') {
    const tls = describeTlsError(code, error);
    if (tls !== undefined) return `TLS to MQTT broker ${url} failed: ${tls}`;
  }
  return `MQTT broker ${url}: ${error.message}`;
}

/**
 * What went wrong in the TLS handshake and which key fixes it. OpenSSL's own message is several
 * lines of source paths and numbers: its one-line `reason` is shown instead.
 */
function describeTlsError(code: string, error: NodeError): string | undefined {
  const reason = typeof error.reason === 'string' && error.reason !== '' ? error.reason : error.message.trim();
  // The CA is right, the name is not: Node's reason names the host asked for and the certificate's names.
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return (
      `the broker's certificate is not for the host asked for (${reason}): connect by a name it holds, ` +
      'or set mqtt.tls.server_name to one'
    );
  }
  if (code.endsWith('_ALERT_CERTIFICATE_REQUIRED'))
    return 'the broker asks for a client certificate: set mqtt.tls.cert and mqtt.tls.key';
  if (CLIENT_CERTIFICATE_ALERT.test(code))
    return `the broker refused this client's certificate (${reason}): check mqtt.tls.cert and mqtt.tls.key`;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) return `${reason} (check mqtt.tls.ca)`;
  if (code.startsWith('ERR_SSL_')) return reason;
  return undefined;
}

const PLAIN_OF: Record<string, string | undefined> = { mqtts: 'mqtt', wss: 'ws' };
const TLS_OF: Record<string, string | undefined> = { mqtt: 'mqtts', ws: 'wss' };

/**
 * Either side of a TLS mismatch ends in a reset before any MQTT: a TLS listener reading a plain
 * CONNECT ("wrong version number"), or a plain one reading a TLS hello.
 */
function schemeHint(url: string): string {
  const scheme = /^([a-z]+):/.exec(url)?.[1] ?? '';
  const plain = PLAIN_OF[scheme];
  const tls = TLS_OF[scheme];
  const ports = scheme.startsWith('mqtt')
    ? { plain: ' (usually 1883)', tls: ' (usually 8883)' }
    : { plain: '', tls: '' };
  if (plain)
    return `is this port plain${ports.plain}? ${scheme}:// needs the broker's TLS port, else write ${plain}://`;
  if (tls) return `is this port TLS${ports.tls}? ${scheme}:// needs the broker's plain port, else write ${tls}://`;
  return 'the broker may not speak MQTT on this port';
}

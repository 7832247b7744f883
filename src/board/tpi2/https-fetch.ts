import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { TpmError } from '../../util/errors.js';
import { bmcTrust, refusePeer, type BmcTrust } from './pinning.js';

/**
 * The part of the WHATWG fetch signature the BMC client uses. The global `fetch` fits it,
 * so programs and tests can inject any fetch (`deps.fetch`, docs/library.md).
 */
export interface FetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  redirect?: 'manual' | 'follow' | 'error';
}

export interface FetchResponse {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export type FetchLike = (url: string, init?: FetchInit) => Promise<FetchResponse>;

/** The `code` of this transport's error for a request aborted before it had a connection. */
export const NOT_CONNECTED_IN_TIME = 'TPM_NOT_CONNECTED';

export interface HttpsFetchOptions {
  /** What the BMC may present (pinning.ts); default: built from `ca` and `insecure`. */
  trust?: BmcTrust;
  /** PEM of the BMC's certificate or of its CA (contents, not a path). */
  ca?: string;
  /** Accept any certificate (the user asked for it explicitly with bmc.insecure). */
  insecure?: boolean;
}

export interface ClosableFetch {
  fetch: FetchLike;
  /** Drops kept-alive connections. */
  close(): void;
}

type CreateConnection = (
  options: tls.ConnectionOptions,
  done: (error: Error | null, socket?: Duplex) => void,
) => undefined;

/**
 * Node 20's global fetch cannot be told to trust one self-signed certificate without an
 * undici dispatcher, and `undici` is not importable here (it is only bundled inside Node).
 * So the default transport is node:https behind the fetch signature, https only, never
 * following redirects (the caller reports them). Its agent hands a connection to a request
 * only after the certificate passed `refusePeer`: not one byte of a request, the login's
 * password least of all, reaches a BMC that is not the trusted one.
 */
export function createHttpsFetch(options: HttpsFetchOptions = {}): ClosableFetch {
  const trust = options.trust ?? bmcTrust({ ca: options.ca ?? null, insecure: options.insecure === true });
  // No TLS session reuse: a resumed session would skip the look at the certificate.
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 4, maxCachedSessions: 0 });
  const createConnection: CreateConnection = (connectOptions, done) => {
    const origin = `https://${connectOptions.host ?? 'localhost'}:${connectOptions.port ?? 443}`;
    const socket = tls.connect({
      ...connectOptions,
      // Checked below, with the pins: Node's own check would refuse every expired BMC certificate.
      rejectUnauthorized: false,
      ...(trust.ca.length > 0 ? { ca: trust.ca } : {}),
    });
    const onError = (error: Error): void => done(error);
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      socket.off('error', onError);
      const refused = refusePeer(trust, socket, origin);
      if (refused) {
        socket.destroy();
        done(refused);
        return;
      }
      done(null, socket);
    });
    return undefined;
  };
  (httpsAgent as unknown as { createConnection: CreateConnection }).createConnection = createConnection;

  const fetch: FetchLike = (url, init = {}) =>
    new Promise<FetchResponse>((resolve, reject) => {
      const target = new URL(url);
      const signal = init.signal;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      if (target.protocol !== 'https:') {
        reject(
          new TpmError(
            'CONFIG',
            `only https:// reaches a BMC (got ${target.protocol}): the password is never sent in clear`,
          ),
        );
        return;
      }
      const request = https.request(
        target,
        { method: init.method ?? 'GET', headers: init.headers ?? {}, agent: httpsAgent },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', fail);
          response.on('end', () => {
            signal?.removeEventListener('abort', onAbort);
            const body = Buffer.concat(chunks).toString('utf8');
            const headers = response.headers;
            resolve({
              status: response.statusCode ?? 0,
              headers: {
                get: (name) => {
                  const value = headers[name.toLowerCase()];
                  if (value === undefined) return null;
                  return Array.isArray(value) ? value.join(', ') : value;
                },
              },
              text: () => Promise.resolve(body),
            });
          });
        },
      );
      function fail(error: unknown): void {
        signal?.removeEventListener('abort', onAbort);
        reject(error);
      }
      function onAbort(): void {
        // No socket handed over yet: the certificate check had not passed, and not a byte of the
        // request (a login's least of all) had left. The caller may count the two cases apart.
        const connected = request.socket !== null;
        request.destroy();
        if (connected) reject(signal?.reason);
        else reject(Object.assign(new Error('no connection before the timeout'), { code: NOT_CONNECTED_IN_TIME }));
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      request.on('error', fail);
      if (init.body !== undefined) request.write(init.body);
      request.end();
    });

  return {
    fetch,
    close: () => {
      httpsAgent.destroy();
    },
  };
}

export { loadCaOption } from './pinning.js';

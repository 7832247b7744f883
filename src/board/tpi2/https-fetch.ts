import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import tls, { type PeerCertificate } from 'node:tls';
import { TpmError, errorMessage } from '../../util/errors.js';

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

export interface HttpsFetchOptions {
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

/**
 * Node 20's global fetch cannot be told to trust one self-signed certificate without an
 * undici dispatcher, and `undici` is not importable here (it is only bundled inside Node).
 * So the default transport is node:https behind the fetch signature: it trusts `ca`, or
 * anything when `insecure`, and never follows redirects (the caller reports them).
 */
export function createHttpsFetch(options: HttpsFetchOptions = {}): ClosableFetch {
  const pinned = options.ca ? pemCertificatesAsDer(options.ca) : [];
  const httpsAgent = new https.Agent({
    keepAlive: true,
    maxSockets: 4,
    ...(options.insecure ? { rejectUnauthorized: false } : {}),
    ...(options.ca ? { ca: options.ca } : {}),
    // A BMC's self-signed certificate names whatever host it was made for, while users
    // reach it by IP or another name. A certificate identical to one the user pinned
    // through bmc.ca is trusted whatever its name; anything else gets the normal check.
    checkServerIdentity: (host: string, cert: PeerCertificate) => {
      if (pinned.some((der) => cert.raw !== undefined && der.equals(cert.raw))) return undefined;
      return tls.checkServerIdentity(host, cert);
    },
  });
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });

  const fetch: FetchLike = (url, init = {}) =>
    new Promise<FetchResponse>((resolve, reject) => {
      const target = new URL(url);
      const isHttps = target.protocol === 'https:';
      const transport = isHttps ? https : http;
      const signal = init.signal;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const request = transport.request(
        target,
        { method: init.method ?? 'GET', headers: init.headers ?? {}, agent: isHttps ? httpsAgent : httpAgent },
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
        request.destroy();
        reject(signal?.reason);
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
      httpAgent.destroy();
    },
  };
}

/** `bmc.ca` is a path or the PEM itself (docs/configuration.md); returns the PEM. */
export function loadCaOption(ca: string): string {
  if (ca.includes('-----BEGIN')) return ca;
  try {
    return readFileSync(ca, 'utf8');
  } catch (error) {
    throw new TpmError('CONFIG', `cannot read the BMC certificate file bmc.ca (${ca}): ${errorMessage(error)}`, {
      cause: error,
    });
  }
}

function pemCertificatesAsDer(pem: string): Buffer[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) =>
    Buffer.from(block.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, ''), 'base64'),
  );
}

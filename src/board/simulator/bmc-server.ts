import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';
import { fingerprintOf } from '../../util/certificate-fingerprint.js';
import { systemClock, type Clock } from '../../util/clock.js';
import { BmcFirmware, nodeParam, type SimulatedBoardRevision, type SimulatedFirmware } from './bmc-firmware.js';
import { BMC_NODES, BmcModel, type BmcStats } from './bmc-model.js';
import { SIMULATOR_FACTORY_CERT, SIMULATOR_FACTORY_KEY } from './factory-certificate.js';

/**
 * A simulated Turing Pi 2 BMC: a real HTTPS server on loopback speaking the API as
 * docs/turing-pi-2.md describes bmcd 2.x, or firmware 1.x (plain HTTP, no authentication,
 * numeric values). Its certificate is self-signed and expired like a real BMC's: the fixed
 * "factory" one (factory-certificate.ts), or a fresh one of the same shape.
 *
 * Where the simulator differs from bmcd, on purpose:
 * - bmcd skips authentication for its own loopback; every client here is on loopback, so
 *   the simulator authenticates everyone.
 * - bmcd answers a reset after the 1 s off time; the simulator answers at once and switches
 *   the slot back on 1 s later on its (injectable) clock, so tests with a FakeClock do not
 *   hang on the request.
 * - Banned peers get what bmcd gives them: 403 with a text body on the login path, 401 with
 *   WWW-Authenticate on every other call ("Exceeded allowed authentication attempts...").
 */
export interface BmcSimulatorOptions {
  clock?: Clock;
  username?: string;
  password: string;
  firmware?: 1 | 2;
  /** Which firmware 2.x release (bmc-firmware.ts): the calls it has and their shapes. Default 2.1.0. */
  release?: SimulatedFirmware;
  /** The board: a 2.5 has a fan (cooling) and a USB hub. Default 2.5. */
  board?: SimulatedBoardRevision;
  /** Port of the API (0: any free port). */
  port?: number;
  /** Also listen on plain HTTP answering 308 to the HTTPS address, as bmcd does on port 80. */
  redirectHttp?: boolean;
  /** Initial stored (and physical) power of nodes 1-4. */
  power?: boolean[];
  /**
   * The certificate served: `factory` (default), the fixed one every simulator serves, like the
   * certificate of the BMC's factory image; `fresh`, a new one of the same shape (another board).
   */
  certificate?: 'factory' | 'fresh' | SimulatorCertificate;
}

export interface SimulatorCertificate {
  cert: string;
  key: string;
}

export interface BmcSimulator {
  /** https://127.0.0.1:<port> (http:// for firmware 1.x). */
  url: string;
  /** The plain-HTTP address that redirects, when redirectHttp was asked for. */
  httpUrl: string | null;
  /** PEM of the server's self-signed certificate (empty for firmware 1.x). */
  ca: string;
  /** SHA-256 fingerprint of that certificate, `AA:BB:...` (empty for firmware 1.x). */
  fingerprint: string;
  /** Serves another certificate from now on, as a BMC whose certificate was renewed; returns it. */
  renewCertificate(next?: SimulatorCertificate): Promise<SimulatorCertificate>;
  state: BmcModel;
  /** The firmware's state beyond power: USB, fan level, node names. */
  firmware: BmcFirmware;
  stats: BmcStats;
  /** A restart of bmcd: every token and every failure count is forgotten. */
  restart(): void;
  /** While true, requests are received and never answered. */
  stopAnswering(stop: boolean): void;
  /**
   * The next API call of `type:opt` (e.g. "power:set") is carried out, then its connection is cut
   * before the answer (a BMC rebooting mid-request, a dropped link); `then` runs as it arrives.
   */
  cutAnswer(call: string, then?: () => void): void;
  close(): Promise<void>;
}

const REALM = 'bmcd';
/** bmcd's answer (500) to a power set without a node1..node4 parameter: its `ensure!` in anyhow's words. */
const NO_NODE_TO_SET = 'Failed to set power state: Condition failed: `mask != 0` (0 vs 0)';

export async function startBmcSimulator(options: BmcSimulatorOptions): Promise<BmcSimulator> {
  const clock = options.clock ?? systemClock;
  const firmware = options.firmware ?? 2;
  const model = new BmcModel(clock, { [options.username ?? 'root']: options.password });
  const release = new BmcFirmware(options.release ?? '2.1.0', options.board ?? '2.5', model);
  options.power?.slice(0, BMC_NODES).forEach((on, index) => model.setPower(index, on));
  model.stats.powerSets = 0;
  let silent = false;
  let cut: { call: string; then?: () => void } | null = null;

  const handler = (request: IncomingMessage, response: ServerResponse): void => {
    model.stats.requests++;
    if (silent) return; // held until the connection is closed: a BMC that stopped answering
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        handle(request, Buffer.concat(chunks).toString('utf8'), response);
      } catch (error) {
        sendResult(response, 500, error instanceof Error ? error.message : String(error));
      }
    });
  };

  const handle = (request: IncomingMessage, body: string, response: ServerResponse): void => {
    const url = new URL(request.url ?? '/', 'https://bmc.invalid');
    const peer = request.socket.remoteAddress ?? 'unknown';
    if (firmware === 2 && url.pathname === '/api/bmc/authenticate') {
      if (request.method !== 'POST') return sendText(response, 405, 'method not allowed');
      let credentials: { username?: unknown; password?: unknown };
      try {
        credentials = JSON.parse(body) as typeof credentials;
      } catch (error) {
        return sendText(response, 403, `error trying to parse credentials: ${(error as Error).message}`);
      }
      const outcome = model.login(peer, credentials?.username, credentials?.password);
      if ('token' in outcome) {
        response.setHeader('X-Auth-Token', outcome.token);
        return sendJson(response, 200, {
          id: outcome.token,
          name: 'User Session',
          description: 'User Session',
          username: credentials.username,
        });
      }
      return sendText(response, outcome.status, outcome.message);
    }
    if (url.pathname !== '/api/bmc' || request.method !== 'GET') return sendText(response, 404, 'not found');
    if (firmware === 2) {
      const auth = model.authorize(peer, request.headers.authorization);
      if (!auth.ok) {
        const challenge =
          auth.scheme === 'Bearer'
            ? `Bearer realm="${REALM}" error="invalid_token" error_description="${auth.message}"`
            : auth.scheme === 'Basic'
              ? `Basic realm="${REALM}"`
              : `realm="${REALM}"`;
        response.setHeader('WWW-Authenticate', challenge);
        return sendText(response, auth.status, auth.message);
      }
    }
    api(url.searchParams, response);
  };

  const api = (query: URLSearchParams, response: ServerResponse): void => {
    const opt = query.get('opt');
    if (opt !== 'get' && opt !== 'set') return sendResult(response, 400, 'Missing `opt` parameter');
    const type = query.get('type');
    if (type === null) return sendResult(response, 400, 'Missing `type` parameter');
    const key = `${type}:${opt}`;
    release.count(type, opt);
    if (cut?.call === key) {
      CUT.add(response);
      cut.then?.();
      cut = null;
    }
    if (key === 'power:get') {
      if (firmware === 1) {
        const numbers = Object.fromEntries(model.stored.map((on, i) => [`node${i + 1}`, on ? 1 : 0]));
        return sendJson(response, 200, { response: [numbers] });
      }
      const states = Object.fromEntries(
        model.stored.map((on, i) => [`node${i + 1}`, model.unknown[i] ? 'Unknown' : on ? '1' : '0']),
      );
      return sendResult(response, 200, [states]);
    }
    if (key === 'power:set') {
      const changes: [number, boolean][] = [];
      for (let i = 0; i < BMC_NODES; i++) {
        const value = query.get(`node${i + 1}`);
        if (value === null) continue;
        if (value !== '0' && value !== '1') {
          return sendResult(response, 400, `Invalid value \`${value}\` for parameter \`node${i + 1}\``);
        }
        changes.push([i, value === '1']);
      }
      // bmcd's activate_slot: ensure!(mask != 0), under the context "set power state".
      if (changes.length === 0) return sendResult(response, 500, NO_NODE_TO_SET);
      for (const [index, on] of changes) model.setPower(index, on);
      return sendResult(response, 200, 'ok');
    }
    if (key === 'reset:set') {
      const index = nodeParam(query);
      if (typeof index !== 'number') return sendBody(response, index.status, index.body);
      model.reset(index);
      return sendResult(response, 200, 'ok');
    }
    const answer = firmware === 2 ? release.answer(opt, type, query) : null;
    if (answer === 'crash') {
      // bmcd panics (`unreachable!()`): no answer, and the bmcd that comes back knows no token.
      model.stats.crashes++;
      model.restart();
      response.socket?.destroy();
      return;
    }
    if (answer) return sendBody(response, answer.status, answer.body);
    return sendResult(response, 400, `Invalid \`type\` parameter ${type}`);
  };

  let current: SimulatorCertificate | null = null;
  let server: http.Server | https.Server;
  if (firmware === 2) {
    const wanted = options.certificate ?? 'factory';
    current = wanted === 'factory' ? FACTORY : wanted === 'fresh' ? await freshCertificate() : wanted;
    server = https.createServer({ key: current.key, cert: current.cert }, handler);
  } else {
    server = http.createServer(handler);
  }
  const port = await listen(server, options.port ?? 0);
  const url = `${firmware === 2 ? 'https' : 'http'}://127.0.0.1:${port}`;

  let redirect: http.Server | null = null;
  let httpUrl: string | null = null;
  if (options.redirectHttp && firmware === 2) {
    redirect = http.createServer((request, response) => {
      model.stats.requests++;
      response.writeHead(308, { location: `${url}${request.url ?? '/'}` });
      response.end();
    });
    httpUrl = `http://127.0.0.1:${await listen(redirect, 0)}`;
  }

  const simulator: BmcSimulator = {
    url,
    httpUrl,
    ca: current?.cert ?? '',
    fingerprint: current ? fingerprintOf(new X509Certificate(current.cert).raw) : '',
    renewCertificate: async (next) => {
      if (!(server instanceof https.Server)) throw new Error('firmware 1.x serves no certificate');
      current = next ?? (await freshCertificate());
      server.setSecureContext({ key: current.key, cert: current.cert });
      // Connections kept alive still speak with the old certificate: a BMC renewing its certificate restarts bmcd.
      server.closeIdleConnections();
      simulator.ca = current.cert;
      simulator.fingerprint = fingerprintOf(new X509Certificate(current.cert).raw);
      return current;
    },
    state: model,
    firmware: release,
    stats: model.stats,
    restart: () => model.restart(),
    stopAnswering: (stop) => {
      silent = stop;
    },
    cutAnswer: (call, then) => {
      cut = { call, ...(then ? { then } : {}) };
    },
    close: async () => {
      for (const s of [server, redirect]) {
        if (!s) continue;
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
  };
  return simulator;
}

const FACTORY: SimulatorCertificate = { cert: SIMULATOR_FACTORY_CERT, key: SIMULATOR_FACTORY_KEY };

/**
 * A certificate of the shape the BMC makes (`openssl req -x509 -subj "/CN=Turing-Pi self signed"`
 * with no SAN), dated in the past like the factory one: only pinning can trust it. An EC key,
 * which is quicker to make than the BMC's RSA 4096 and changes nothing about trust.
 */
async function freshCertificate(): Promise<SimulatorCertificate> {
  const pems = await generate([{ name: 'commonName', value: 'Turing-Pi self signed' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date('1970-01-01T00:00:00Z'),
    notAfterDate: new Date('1970-01-31T00:00:00Z'),
    extensions: [{ name: 'basicConstraints', cA: true }],
  });
  return { cert: pems.cert, key: pems.private };
}

function listen(server: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  sendBody(response, status, JSON.stringify(body));
}

/** Answers carried out but never sent: their connection is cut instead (cutAnswer). */
const CUT = new WeakSet<ServerResponse>();

function sendBody(response: ServerResponse, status: number, text: string): void {
  if (CUT.has(response)) {
    response.socket?.destroy();
    return;
  }
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

/** bmcd's legacy envelope: `{"response":[{"result": ...}]}`, for answers and errors alike. */
function sendResult(response: ServerResponse, status: number, result: unknown): void {
  sendJson(response, status, { response: [{ result }] });
}

function sendText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

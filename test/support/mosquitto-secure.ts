import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, waitUntilAccepting } from './ports.js';

/** Files of a throw-away PKI: a CA, a server certificate for 127.0.0.1 signed by it, and an unrelated CA. */
export interface TestPki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  /** A CA that did not sign the server certificate. */
  otherCa: string;
  /** A client certificate and key signed by `ca`, and one signed by `otherCa`. */
  clientCert: string;
  clientKey: string;
  strangerCert: string;
  strangerKey: string;
}

/** Makes the PKI with openssl (EC P-256 keys: fast), valid for two days. */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(path.join(tmpdir(), 'tpm-pki-'));
  const file = (name: string): string => path.join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=turingpi-mqtt test CA',
  );
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    file('other-ca.key'),
    '-out',
    file('other-ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=some other CA',
  );
  openssl('req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(file('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.crt'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-out',
    file('server.crt'),
    '-days',
    '2',
    '-extfile',
    file('san.ext'),
  );
  for (const [name, ca] of [
    ['client', 'ca'],
    ['stranger', 'other-ca'],
  ] as const) {
    openssl('req', ...ec, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', `/CN=${name}`);
    const signer = ['-CA', file(`${ca}.crt`), '-CAkey', file(`${ca}.key`), '-CAcreateserial'];
    openssl('x509', '-req', '-in', file(`${name}.csr`), ...signer, '-out', file(`${name}.crt`), '-days', '2');
  }
  chmodSync(file('server.key'), 0o644); // mosquitto may run as another user
  return {
    dir,
    ca: file('ca.crt'),
    serverCert: file('server.crt'),
    serverKey: file('server.key'),
    otherCa: file('other-ca.crt'),
    clientCert: file('client.crt'),
    clientKey: file('client.key'),
    strangerCert: file('stranger.crt'),
    strangerKey: file('stranger.key'),
  };
}

export interface SecureMosquitto {
  port: number;
  output(): string;
  stop(): Promise<void>;
}

/**
 * mosquitto with a listener of our own: `listenerLines` go after `listener PORT 127.0.0.1`
 * (TLS files, password_file, acl_file, ...). Users are added with mosquitto_passwd -b.
 */
export async function startSecureMosquitto(
  binary: string,
  options: { listenerLines: string[]; users?: Record<string, string>; acl?: string },
): Promise<SecureMosquitto> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'tpm-mosquitto-secure-'));
  const lines = [`per_listener_settings true`, `listener ${port} 127.0.0.1`, ...options.listenerLines];
  if (options.users) {
    const passwords = path.join(dir, 'passwords');
    writeFileSync(passwords, '');
    chmodSync(passwords, 0o600);
    const tool = path.join(path.dirname(binary), 'mosquitto_passwd');
    for (const [user, password] of Object.entries(options.users)) {
      execFileSync(existsOr(tool, 'mosquitto_passwd'), ['-b', passwords, user, password], { stdio: 'ignore' });
    }
    lines.push('allow_anonymous false', `password_file ${passwords}`);
  }
  if (options.acl !== undefined) {
    const acl = path.join(dir, 'acl');
    writeFileSync(acl, options.acl);
    chmodSync(acl, 0o600);
    lines.push(`acl_file ${acl}`);
  }
  lines.push('persistence false', 'log_dest stderr', 'log_type error', 'log_type warning', 'log_type notice');
  if (process.getuid?.() === 0) lines.unshift('user root');
  const configFile = path.join(dir, 'mosquitto.conf');
  writeFileSync(configFile, `${lines.join('\n')}\n`);
  let output = '';
  const child: ChildProcess = spawn(binary, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await Promise.race([
      waitUntilAccepting(port, 10_000),
      exited.then(() => Promise.reject(new Error(`mosquitto exited:\n${output}`))),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    port,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

function existsOr(candidate: string, fallback: string): string {
  try {
    execFileSync(candidate, ['--help'], { stdio: 'ignore' });
    return candidate;
  } catch (error) {
    // mosquitto_passwd --help exits 1 but exists; only a missing file is a reason to fall back.
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? fallback : candidate;
  }
}

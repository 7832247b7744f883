import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { writeFileDurably } from '../../util/durable-file.js';
import { readFile } from '../../util/files.js';

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

/**
 * The BMC's count of this host's failed logins, as far as the bridge can know it, kept in
 * state_dir so that a restart of the bridge (systemd's Restart=, Docker's restart policy) is
 * no fresh start: bmcd counts failures per client address with no time window until a success
 * or a restart of bmcd, and bans from the 5th (docs/turing-pi-2.md, "Logins and bans").
 *
 * The credentials that failed are kept only as a salted scrypt hash (a random salt per record),
 * enough to notice that board.bmc.password changed and never enough to recover it: a plain
 * hash of a default password like "turing" would be looked up in a second.
 */
export interface LoginRecordData {
  /**
   * The BMC's origin at the last write, for people: the count is kept when board.bmc.url changes,
   * since another name of the same BMC counts the same failures.
   */
  bmc: string;
  /** Failures in a row the BMC has counted from this host (refused logins, unknown tokens). */
  failures: number;
  /** The last failure's reason and time (ISO), for people. */
  reason: string | null;
  last_failure_at: string | null;
  /** scrypt(username NUL password) of the credentials of the last failure, and its salt (hex). */
  salt: string | null;
  key: string | null;
}

const FILE = 'bmc-login.json';
/** What an unreadable record counts as: enough to pause automatic logins. */
const UNREADABLE_RECORD_FAILURES = 3;
const KEY_LENGTH = 32;

export function emptyLoginRecord(bmc: string): LoginRecordData {
  return { bmc, failures: 0, reason: null, last_failure_at: null, salt: null, key: null };
}

export interface LoginRecordStore {
  load(): Promise<LoginRecordData | null>;
  save(data: LoginRecordData): Promise<void>;
}

/** Kept in memory only: a driver without a state_dir (a library user, a test). */
export function memoryLoginRecord(): LoginRecordStore {
  let saved: LoginRecordData | null = null;
  return {
    load: async () => (saved ? { ...saved } : null),
    save: async (data) => {
      saved = { ...data };
    },
  };
}

/**
 * `<state_dir>/bmc-login.json`, written durably (src/util/durable-file.ts): a power cut leaves
 * the old count or the new one, never an empty file that would read as logins paused.
 */
export function fileLoginRecord(stateDir: string): LoginRecordStore {
  const file = path.join(stateDir, FILE);
  return {
    async load() {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch {
        return null;
      }
      try {
        return parseRecord(JSON.parse(text));
      } catch {
        // An unreadable record is no proof of zero failures: count as if logins were paused.
        return { ...emptyLoginRecord(''), failures: UNREADABLE_RECORD_FAILURES, reason: `${file} could not be read` };
      }
    },
    async save(data) {
      await writeFileDurably(file, `${JSON.stringify(data, null, 2)}\n`);
    },
  };
}

function parseRecord(value: unknown): LoginRecordData {
  const v = value as Partial<LoginRecordData> | null;
  if (typeof v !== 'object' || v === null || typeof v.bmc !== 'string' || typeof v.failures !== 'number') {
    throw new Error('not a login record');
  }
  const text = (x: unknown): string | null => (typeof x === 'string' ? x : null);
  return {
    bmc: v.bmc,
    failures: Math.max(0, Math.floor(v.failures)),
    reason: text(v.reason),
    last_failure_at: text(v.last_failure_at),
    salt: text(v.salt),
    key: text(v.key),
  };
}

/** A new salted key of the credentials. */
export async function credentialsKey(username: string, password: string): Promise<{ salt: string; key: string }> {
  const salt = randomBytes(16);
  const key = await scrypt(`${username}\0${password}`, salt, KEY_LENGTH);
  return { salt: salt.toString('hex'), key: key.toString('hex') };
}

/** Whether the record's key was made from these credentials. */
export async function sameCredentials(record: LoginRecordData, username: string, password: string): Promise<boolean> {
  if (record.salt === null || record.key === null) return false;
  const expected = Buffer.from(record.key, 'hex');
  if (expected.length !== KEY_LENGTH) return false;
  const key = await scrypt(`${username}\0${password}`, Buffer.from(record.salt, 'hex'), KEY_LENGTH);
  return timingSafeEqual(key, expected);
}

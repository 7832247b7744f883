import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEFAULT_LOGIN_POLICY } from '../../src/board/tpi2/login-guard.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, TOKEN_LIFETIME_MS } from '../../src/board/tpi2/driver.js';
import { repoPath } from '../support/paths.js';

/** The text of a document's section: from its heading to the next heading of any level. */
function section(doc: string, heading: string): string {
  const text = readFileSync(repoPath(doc), 'utf8');
  const start = text.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `${doc} has no section "${heading}"`);
  const rest = text.slice(start + heading.length + 2);
  const end = rest.search(/^#/m);
  return (end < 0 ? rest : rest.slice(0, end)).replace(/\s+/g, ' ');
}

/**
 * What docs/hardware.md and docs/turing-pi-2.md tell users about the BMC driver agrees with the
 * driver's own numbers and ways: the ways it trusts a certificate, when it stops logging in, the
 * token lifetime and the request timeout.
 */
describe('docs: the Turing Pi 2 BMC as the driver handles it', () => {
  it('hardware.md names every way the driver trusts the certificate, and the module that decides', () => {
    const text = section('docs/hardware.md', '### Transport and certificate');
    for (const way of ['board.bmc.fingerprint', 'board.bmc.ca', 'board.bmc.insecure']) {
      assert.ok(text.includes(way), `"Transport and certificate" does not name ${way}`);
    }
    assert.ok(text.includes('src/board/tpi2/pinning.ts'), 'the trust is decided in pinning.ts');
    // The certificate is made by the firmware's start script, not by bmcd: the source is named.
    assert.doesNotMatch(text, /bmcd makes it/);
    assert.ok(text.includes('generate_self_signedx509.sh'), 'the script that makes the certificate is cited');
  });

  it('hardware.md says the login guard stops automatic logins after 3 failures, not that spacing avoids bans', () => {
    const text = section('docs/hardware.md', '### Login and bans');
    const { maxAutomatic, maxAny } = DEFAULT_LOGIN_POLICY;
    assert.match(text, new RegExp(`after ${maxAutomatic} failures in a row`));
    // A retry a person asks for is allowed below maxAny failures: the one after would ban.
    assert.match(text, new RegExp(`never the one that would be the ${maxAny + 1}th`));
    // bmcd counts with no time window: spacing attempts out never keeps a count from reaching 5.
    assert.doesNotMatch(text, /spaced so that they never reach/);
  });

  it('turing-pi-2.md gives the token lifetime and the request timeout the driver uses', () => {
    const text = section('docs/turing-pi-2.md', '## Logins and bans');
    assert.ok(text.includes(`${TOKEN_LIFETIME_MS / 1000} s after its last use`));
    assert.match(text, new RegExp(`request timeout of ${DEFAULT_REQUEST_TIMEOUT_MS / 1000} s`));
  });
});

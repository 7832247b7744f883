import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mosquittoAcl } from '../faults/acl.js';
import { repoPath } from '../support/paths.js';

/**
 * docs/security.md's ACL is the one the fault suite runs mosquitto with (test/faults/acl.ts):
 * kept in step by hand, the two had drifted once (Home Assistant's fan and USB commands were
 * allowed in neither), so the text a user copies is compared with the tested one here.
 */
describe('docs: the mosquitto ACL of security.md', () => {
  it('is, word for word, the ACL the security suite tests (base topic turingpi, an agent on node 3)', () => {
    const text = readFileSync(repoPath('docs/security.md'), 'utf8');
    const intro = text.indexOf('`/etc/mosquitto/acl`');
    assert.ok(intro >= 0, 'security.md shows /etc/mosquitto/acl');
    const block = /```\n([\s\S]*?)```/.exec(text.slice(intro));
    assert.ok(block, 'the ACL is in a code block after its introduction');
    assert.equal(block[1], mosquittoAcl('turingpi', [3]));
  });
});

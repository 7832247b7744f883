import assert from 'node:assert/strict';
import { displayUrl } from '../../src/util/redact.js';

describe('displayUrl', () => {
  it('hides the password written into a URL, keeping the user name', () => {
    assert.equal(displayUrl('mqtts://bridge:s3cr3t@broker.lan:8883'), 'mqtts://bridge:***@broker.lan:8883');
    assert.equal(displayUrl('https://root:turing@turingpi.local/api'), 'https://root:***@turingpi.local/api');
  });

  it('leaves URLs without credentials, and a user name alone, as they are', () => {
    assert.equal(displayUrl('mqtt://127.0.0.1:1883'), 'mqtt://127.0.0.1:1883');
    assert.equal(displayUrl('mqtt://bridge@broker.lan'), 'mqtt://bridge@broker.lan');
  });
});

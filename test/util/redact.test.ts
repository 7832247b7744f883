import assert from 'node:assert/strict';
import { displayUrl, urlPassword } from '../../src/util/redact.js';

describe('displayUrl', () => {
  it('hides the password written into a URL, keeping the user name', () => {
    assert.equal(displayUrl('mqtts://bridge:s3cr3t@broker.lan:8883'), 'mqtts://bridge:***@broker.lan:8883');
    assert.equal(displayUrl('https://root:turing@turingpi.local/api'), 'https://root:***@turingpi.local/api');
  });

  it('leaves URLs without credentials, and a user name alone, as they are', () => {
    assert.equal(displayUrl('mqtt://127.0.0.1:1883'), 'mqtt://127.0.0.1:1883');
    assert.equal(displayUrl('mqtt://bridge@broker.lan'), 'mqtt://bridge@broker.lan');
  });

  it('hides a password holding @ or : whole (issue 13: "u:***@S3cretTail@..." showed its tail)', () => {
    const shown = displayUrl('mqtt://u:Sup3r@S3cretTail@host:1883');
    assert.equal(shown, 'mqtt://u:***@host:1883');
    assert.ok(!shown.includes('S3cret'));
    assert.equal(displayUrl('mqtts://u:a:b@c@broker.lan:8883/x'), 'mqtts://u:***@broker.lan:8883/x');
    assert.equal(displayUrl('https://root:p%40ss@tpi.lan'), 'https://root:***@tpi.lan/');
  });

  it('gives the password of a URL decoded, or undefined', () => {
    assert.equal(urlPassword('mqtt://u:Sup3r@S3cretTail@host'), 'Sup3r@S3cretTail');
    assert.equal(urlPassword('mqtt://u@host'), undefined);
    assert.equal(urlPassword('not a url'), undefined);
  });
});

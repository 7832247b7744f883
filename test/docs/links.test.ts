import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { repoPath, repoRoot } from '../support/paths.js';

/**
 * The user-facing documents (README.md, docs/, docker/README.md): every relative link names a file
 * of the repository, and every #anchor a heading of the file it points into (GitHub's slugs).
 */
const documents = [
  'README.md',
  'docker/README.md',
  ...readdirSync(repoPath('docs'))
    .filter((n) => n.endsWith('.md'))
    .map((n) => `docs/${n}`),
];

/** GitHub's heading anchor: lower case, punctuation other than - and _ dropped, spaces to -. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function withoutCode(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, '');
}

function anchors(file: string): Set<string> {
  const text = withoutCode(readFileSync(repoPath(file), 'utf8'));
  return new Set([...text.matchAll(/^#{1,6}\s+(.*)$/gm)].map((m) => slug(m[1] ?? '')));
}

function links(file: string): string[] {
  const text = withoutCode(readFileSync(repoPath(file), 'utf8')).replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? '').filter((l) => !/^[a-z]+:/.test(l));
}

describe('documentation links', () => {
  it('slugs headings as GitHub does', () => {
    assert.equal(
      slug('Why croner (with our own daylight-saving rule) and not node-cron'),
      'why-croner-with-our-own-daylight-saving-rule-and-not-node-cron',
    );
    assert.equal(slug('Keeping other clients off `agent/command`'), 'keeping-other-clients-off-agentcommand');
  });

  for (const file of documents) {
    it(`${file}: every relative link and anchor resolves`, () => {
      const broken: string[] = [];
      for (const link of links(file)) {
        const [path = '', anchor] = link.split('#');
        const target = path === '' ? file : relative(repoRoot(), join(repoRoot(), dirname(file), path));
        if (!existsSync(repoPath(target))) {
          broken.push(`${link}: no file ${target}`);
          continue;
        }
        if (anchor !== undefined && statSync(repoPath(target)).isFile() && !anchors(target).has(anchor)) {
          broken.push(`${link}: no heading #${anchor} in ${target}`);
        }
      }
      assert.deepEqual(broken, []);
    });
  }

  it('the README stays short: under 300 lines, with the two set-up commands', () => {
    const readme = readFileSync(repoPath('README.md'), 'utf8');
    assert.ok(readme.split('\n').length < 300, `README.md has ${readme.split('\n').length} lines`);
    assert.match(readme, /^npm ci && npm start\s/m);
    assert.match(readme, /^npm test\s/m);
  });

  it('docs/changelog.md starts with an Unreleased section', () => {
    const changelog = readFileSync(repoPath('docs/changelog.md'), 'utf8');
    assert.match(changelog, /^# Changelog\n\n## Unreleased\n/);
  });
});

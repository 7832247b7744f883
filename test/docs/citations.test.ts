import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from dist/test/docs/ (compiled) or test/docs/. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function sourceFiles(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) found.push(...sourceFiles(path));
    else if (name.endsWith('.ts')) found.push(path);
  }
  return found;
}

const FILES = [...sourceFiles('src'), ...sourceFiles('test')];

/** Comment lines joined, so that a title wrapped over two comment lines reads as one. */
function joined(text: string): string {
  return text.replace(/\n\s*(\*|\/\/)\s*/g, ' ');
}

function headings(doc: string): string[] {
  return readFileSync(join(ROOT, doc), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('#'))
    .map((line) => line.replace(/^#+\s*/, '').trim());
}

describe("code comments cite the project's own docs", () => {
  it('finds the sources', () => {
    assert.ok(FILES.length > 100, `only ${FILES.length} files found`);
    assert.ok(FILES.includes(join('src', 'board', 'tpi1', 'driver.ts')));
  });

  it("no file cites the developers' own notes, which are not in the repository", () => {
    // Spelt in pieces so that this file does not match itself.
    const forbidden = new RegExp(['SPEC(\\s+sections?)?\\s+\\d', 'HARDWARE\\.md', 'ARCHITECTURE\\s+habit'].join('|'));
    const offenders = FILES.filter((file) => forbidden.test(joined(readFileSync(join(ROOT, file), 'utf8'))));
    assert.deepEqual(offenders, []);
  });

  it('every docs/ file a comment cites exists, and so does every section it names', () => {
    const cited = /((?:docs\/[A-Za-z0-9_-]+|README)\.md)(?:'s)?,? (?:"([^"]+)")?/g;
    const missing: string[] = [];
    let sections = 0;
    for (const file of FILES) {
      for (const match of joined(readFileSync(join(ROOT, file), 'utf8')).matchAll(cited)) {
        const [, doc, title] = match as unknown as [string, string, string | undefined];
        if (!existsSync(join(ROOT, doc))) {
          missing.push(`${file}: ${doc} does not exist`);
          continue;
        }
        if (title === undefined) continue;
        sections++;
        // A section is a heading (a citation may shorten it to its start) or a phrase of the text.
        const text = readFileSync(join(ROOT, doc), 'utf8');
        const found = headings(doc).some((heading) => heading.startsWith(title)) || text.includes(title);
        if (!found) missing.push(`${file}: ${doc} has no "${title}"`);
      }
    }
    assert.ok(sections > 20, `only ${sections} cited sections found`);
    assert.deepEqual(missing, []);
  });
});

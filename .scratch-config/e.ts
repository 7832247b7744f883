import { parseDocument, LineCounter } from 'yaml';
import { readFileSync } from 'node:fs';
const lc = new LineCounter();
const d = parseDocument(readFileSync(process.argv[2]!, 'utf8'), { lineCounter: lc, prettyErrors: false });
for (const e of d.errors) console.log(e.code, e.pos, lc.linePos(e.pos[0]), e.message);

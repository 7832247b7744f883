import { checkConfigText } from '../src/config/load.ts';
import { formatProblems } from '../src/config/problems.ts';
import { readFileSync } from 'node:fs';
const f = process.argv[2]!;
const r = checkConfigText(readFileSync(f, 'utf8'), f, { env: { PW: 'secret' } });
console.log(formatProblems(r.problems).join('\n')); console.log('warnings', r.warnings);

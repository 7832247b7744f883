import { configSchema } from '../src/config/schema.ts';
const r = configSchema.safeParse({ schedules: [{name: 'a', cron: '* * * * *', action: 'on', nodes: [0, 'x']}], policies: {watchdog: {nodes: 'some'}}});
console.log(JSON.stringify(r.error?.issues, null, 1));

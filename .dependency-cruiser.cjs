/**
 * The layering of src/ (docs/ARCHITECTURE.md, "Layering rules"), checked by `npm run lint` and
 * by test/docs/layering.test.ts. Rules name folders, not files, so that new files are held to
 * them too. Type-only imports count (tsPreCompilationDeps).
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import circles between files, type-only imports included.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'util-imports-nothing',
      severity: 'error',
      comment: 'src/util/ is the bottom layer: it imports nothing else of the project.',
      from: { path: '^src/util/' },
      to: { path: '^src/', pathNot: '^src/util/' },
    },
    {
      name: 'board-below-the-app',
      severity: 'error',
      comment: 'board/ knows only its hardware: nothing from mqtt/, homeassistant/, agent/ or app/.',
      from: { path: '^src/board/' },
      to: { path: '^src/(mqtt|homeassistant|agent|app|cli|power|schedule)/' },
    },
    {
      name: 'homeassistant-without-board',
      severity: 'error',
      comment: 'Discovery builds from facts of its own (homeassistant/board-facts.ts), never from a driver.',
      from: { path: '^src/homeassistant/' },
      to: { path: '^src/(board|app|power|agent|cli)/' },
    },
    {
      name: 'config-below-mqtt-and-board',
      severity: 'error',
      comment: 'config/ is read by everyone and reads nothing of mqtt/ or board/ (nor anything above them).',
      from: { path: '^src/config/' },
      to: { path: '^src/(mqtt|board|homeassistant|power|schedule|agent|app|cli)/' },
    },
    {
      name: 'power-without-mqtt',
      severity: 'error',
      comment: 'The power service talks to the board and the agents through what it is handed, not MQTT.',
      from: { path: '^src/power/' },
      to: { path: '^src/(mqtt|homeassistant|app|cli)/' },
    },
    {
      name: 'agent-without-board',
      severity: 'error',
      comment: "The agent's pieces know nothing of the board (nor of the bridge's parts).",
      from: { path: '^src/agent/' },
      to: { path: '^src/(board|power|homeassistant|schedule|app|cli)/' },
    },
    {
      name: 'app-parts-below-the-root',
      severity: 'error',
      comment:
        "The bridge's parts are handed their collaborators: none imports the composition root " +
        '(bridge.ts, bridge-open.ts, bridge-parts.ts).',
      from: { path: '^src/app/', pathNot: '^src/app/bridge(-open|-parts)?[.]ts$' },
      to: { path: '^src/app/bridge(-open|-parts)?[.]ts$' },
    },
    {
      name: 'only-the-cli-and-library-reach-the-top',
      severity: 'error',
      comment: 'src/cli/ and the library face (src/cli.ts, src/index.ts) are the top: nothing imports them.',
      from: { path: '^src/', pathNot: '^src/(cli/|cli\\.ts$|index\\.ts$)' },
      to: { path: '^src/(cli/|cli\\.ts$|index\\.ts$)' },
    },
    {
      name: 'src-not-to-test',
      severity: 'error',
      comment: 'The product never imports its tests.',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
    {
      name: 'src-not-to-dev-dependencies',
      severity: 'error',
      comment: 'What src/ imports must be installed with the package.',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.d.ts'],
    },
  },
};

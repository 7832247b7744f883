/**
 * Limits of the config that code outside the config's checks needs too: kept apart from the
 * schema, so that reading them does not load zod into the bridge (the config child checks it).
 */

/** The most nodes a board may have (simulate.nodes, board.gpio node numbers, node lists). */
export const MAX_NODES = 1024;

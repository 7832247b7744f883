import type { BoardInfo } from '../board/types.js';
import type { Config } from '../config/schema.js';
import { VERSION } from './version.js';

/**
 * `<b>/bridge/info` (docs/topics.md): this package's version, the board, and where the board
 * says which firmware it runs (a Turing Pi 2's BMC), its firmware line and bmcd version.
 */
export function bridgeInfo(config: Config, info: BoardInfo, startedAt: string) {
  return {
    version: VERSION,
    board: {
      type: config.board.type,
      id: config.board.id,
      name: config.board.name,
      model: info.model,
      nodes: info.nodes,
      ...(info.bmcd !== undefined ? { firmware: info.firmware ?? null, bmcd: info.bmcd } : {}),
    },
    started_at: startedAt,
  };
}

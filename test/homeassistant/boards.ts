import type { BoardInfo } from '../../src/board/types.js';

/**
 * What the Turing Pi drivers report about their boards (BoardInfo), written out here so that
 * the discovery tests state the board they build for instead of reading it from a driver.
 */

export const TPI1: BoardInfo = {
  type: 'tpi1',
  model: 'Turing Pi 1',
  nodes: 7,
  hasRtc: true,
  canTellPresence: true,
  nativeReset: false,
  reportsPowerOnTime: false,
  hasFans: false,
};

export const TPI2: BoardInfo = {
  type: 'tpi2',
  model: 'Turing Pi 2',
  nodes: 4,
  hasRtc: false,
  canTellPresence: false,
  nativeReset: true,
  reportsPowerOnTime: true,
  hasFans: false,
};

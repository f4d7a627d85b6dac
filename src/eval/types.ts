// The checker's options and report, shared by its two modes (ground truth and hold-out).
import type { WorldSpec } from '../world/index.js';
import type { PolicyScore } from './score.js';

export interface CheckOptions {
  seed: number;
  requests: number;
  policies: readonly string[];
  url?: string;
  modelsDir: string;
  candidates: number;
  rankAll: boolean;
  /** The world to score against; read from checker.world_info when absent. */
  world?: WorldSpec;
  /** Hold-out mode: the last days of the log that answers are scored on. */
  holdoutDays?: number;
  /**
   * Score on held-out days even when the tables come from a simulated world: the protocol for
   * real logs, run where the answer is known.
   */
  holdout?: boolean;
  /** Hold-out mode: also score models whose training window overlaps the held-out days. */
  allowOverlap?: boolean;
  log?: (msg: string) => void;
}

/** The held-out days of a hold-out check (epoch ms, with ISO twins for the report). */
export interface HoldoutWindow {
  startMs: number;
  endMs: number;
  start: string;
  end: string;
}

export interface CheckReport {
  checker: {
    seed: number;
    requests: number;
    mode: 'ground-truth' | 'holdout';
    holdoutDays?: number;
    holdout?: HoldoutWindow;
  };
  /** The simulated world scored against; null on imported real tables (hold-out mode). */
  world: { seed: number; scale: string; exposure?: string } | null;
  ranking: { candidates: number; rankAll: boolean };
  policies: Record<
    string,
    PolicyScore & {
      gapClosed?: number;
      model?: string;
      groups?: Record<string, number>;
      /** Hold-out mode: the last event the model learned from (its cut-off, or its last event). */
      trainedUntil?: string | null;
      /** Hold-out mode: scored although its training window overlaps the held-out days. */
      overlap?: boolean;
    }
  >;
}

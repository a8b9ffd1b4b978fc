/**
 * The windows and margins of the sealed-hours rollup (docs/decisions/0044-rollup-rebuilt-from-raw-calls.md):
 * one place, because the writer's marks and the maintainer's seals are only safe together.
 */

export const HOUR_MS = 3_600_000;

/**
 * An hour is sealed once it ended this long ago: spans of a call are exported when the call ends
 * (a long reasoning call, a background response) and batched, so most of an hour's late spans have
 * arrived by then. Later ones are marked and the hour rebuilt.
 */
export const SEAL_GRACE_MS = 10 * 60_000;

/**
 * Longest time from a dirty mark to the commit of the insert it announces, as the maintainer
 * assumes: a seal covers only the marks older than its start minus this, so a mark written just
 * before the seal read (its calls not yet committed) makes the hour be rebuilt again.
 */
export const MARK_MARGIN_MS = 2 * 60_000;

/** A writer reuses its mark of an hour for this long (then marks again before inserting). */
export const MARK_REUSE_MS = 30_000;

/**
 * A writer whose insert finished longer than this after the mark it relied on marks the hour again
 * (its commit may be later than MARK_MARGIN_MS after the mark).
 */
export const MARK_RECHECK_MS = MARK_MARGIN_MS / 2;

/** The writer marks hours that ended, or end within this (its insert may commit after the end). */
export const MARK_AHEAD_MS = 60_000;

/** How often the maintainer seals, rebuilds and checks. */
export const MAINTAIN_EVERY_MS = 5_000;

/**
 * Readers (the view) take a move of the frontier this long after it was written: a query resolves
 * the rollup table (its parts) before it evaluates the frontier, both within its analysis, far less
 * than this apart; so a reader that sees the new frontier also sees the rows built before it. The
 * delay is applied by the view itself, on the server's clock, so it holds across a crash.
 */
export const PUBLISH_DELAY_MS = 5_000;

/** Sealed hours compared with the raw calls on every check: the latest ones (most writes). */
export const VERIFY_RECENT_HOURS = 6;

/** How often sealed hours are compared with the raw calls (the net under everything else). */
export const VERIFY_EVERY_MS = 60_000;

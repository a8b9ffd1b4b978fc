/**
 * The times tokenledger can store. `DateTime` columns (the hourly rollup's `hour`, budget periods)
 * hold UInt32 seconds: a later time wraps silently into an earlier century (2200 reads as 2063).
 */
export const EARLIEST_STORED_TIME = new Date(0);
/** 2106-02-07T06:28:15.999Z */
export const LATEST_STORED_TIME = new Date(2 ** 32 * 1000 - 1);

export function isStorableTime(d: Date): boolean {
  const t = d.getTime();
  return t >= EARLIEST_STORED_TIME.getTime() && t <= LATEST_STORED_TIME.getTime();
}

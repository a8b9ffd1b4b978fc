/**
 * A Bloom filter of span keys (trace id + span id) with the latest start time among them: the
 * exclusive writer's memory of the keys it inserted and no longer holds exactly (decision 0107).
 * "No" is certain, "maybe" is wrong for about 1 key in 1,400 at capacity (16 bits and 7 probes a
 * key), so a span it does not know is new without an engine lookup, and one it might know is looked
 * up — a few keys, which the primary key prunes to a few granules at any table size.
 *
 * Fixed memory (2 bytes a key of capacity); once full it answers `full` and the writer folds it into
 * its start-time bound and clears it.
 */
const BITS_PER_KEY = 16;
const PROBES = 7;

export class KeyFilter {
  /** Allocated at the first key (a writer that never forgets one holds none). */
  private bits: Int32Array | undefined;
  private readonly words: number;
  private readonly mask: number;
  private count = 0;
  /** The latest start time among the keys added (nanoseconds; -1 when empty). */
  latestStart = -1n;

  constructor(private readonly capacity: number) {
    // A power of two of bits, so a probe is a mask, not a division.
    let words = 1;
    while (words * 32 < capacity * BITS_PER_KEY) words *= 2;
    this.words = words;
    this.mask = words * 32 - 1;
  }

  get size(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count >= this.capacity;
  }

  add(key: string, start: bigint): void {
    const bits = (this.bits ??= new Int32Array(this.words));
    hash(key);
    for (let i = 0, h = first; i < PROBES; i++, h = (h + step) | 0) {
      const bit = h & this.mask;
      const word = bit >>> 5;
      bits[word] = bits[word]! | (1 << (bit & 31));
    }
    this.count++;
    if (start > this.latestStart) this.latestStart = start;
  }

  /** False: `key` was never added. True: it may have been. */
  mightHave(key: string): boolean {
    const bits = this.bits;
    if (bits === undefined || this.count === 0) return false;
    hash(key);
    for (let i = 0, h = first; i < PROBES; i++, h = (h + step) | 0) {
      const bit = h & this.mask;
      if ((bits[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }

  clear(): void {
    this.bits?.fill(0);
    this.count = 0;
    this.latestStart = -1n;
  }
}

/** Two independent 32-bit hashes of the last key hashed (FNV-1a and a multiply-xorshift), for double hashing. */
let first = 0;
let step = 0;
function hash(key: string): void {
  let a = 0x811c9dc5;
  let b = 0x9e3779b9;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  first = a;
  // Odd, so the probes of one key never repeat a bit within a table of 2^n bits.
  step = (b ^ (b >>> 13)) | 1;
}

/**
 * The few C library calls the collector makes on itself for its memory (decisions 0092, 0093, 0102),
 * through koffi — an optional dependency with prebuilt binaries, so nothing is compiled. Loaded once;
 * where koffi, Linux or the C library is missing, the reason instead.
 */
type Madvise = (start: bigint, length: bigint, advice: number) => number;
type Mallopt = (param: number, value: number) => number;
type MallocTrim = (pad: number) => number;

export interface Libc {
  madvise: Madvise;
  /** glibc only (musl has no tunable allocator). */
  mallopt?: Mallopt;
  /** glibc only: returns the free pages inside the heaps to the system. */
  mallocTrim?: MallocTrim;
}

let loaded: Libc | string | undefined;

export function loadLibc(): Libc | string {
  loaded ??= load();
  return loaded;
}

function load(): Libc | string {
  if (process.platform !== 'linux') return `not on Linux (${process.platform})`;
  let koffi: typeof import('koffi');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    koffi = require('koffi') as typeof import('koffi');
  } catch {
    return 'the optional package koffi is not installed';
  }
  try {
    const glibc = koffi.load('libc.so.6');
    return {
      madvise: glibc.func('int madvise(uintptr_t addr, size_t length, int advice)') as Madvise,
      mallopt: glibc.func('int mallopt(int param, int value)') as Mallopt,
      mallocTrim: glibc.func('int malloc_trim(size_t pad)') as MallocTrim,
    };
  } catch {
    // not glibc: musl's C library, by its names
  }
  for (const name of ['libc.musl-x86_64.so.1', 'libc.musl-aarch64.so.1']) {
    try {
      return {
        madvise: koffi.load(name).func('int madvise(uintptr_t addr, size_t length, int advice)') as Madvise,
      };
    } catch {
      // the next name
    }
  }
  return 'no C library found';
}

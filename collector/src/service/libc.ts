/**
 * The C library call the collector makes on itself for its memory (decision 0093), through koffi —
 * an optional dependency with prebuilt binaries, so nothing is compiled. Loaded once; where koffi,
 * Linux or glibc is missing, the reason instead.
 */
type Mallopt = (param: number, value: number) => number;

export interface Libc {
  mallopt: Mallopt;
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
    return { mallopt: koffi.load('libc.so.6').func('int mallopt(int param, int value)') as Mallopt };
  } catch {
    return 'not glibc (musl has no tunable allocator)';
  }
}

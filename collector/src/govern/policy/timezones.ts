/** IANA time zone names, from the runtime's own ICU data (no dependency). */

export const TIME_ZONES: readonly string[] = [...Intl.supportedValuesOf('timeZone'), 'UTC'];

export function isTimeZone(name: string): boolean {
  // Only region names (and UTC): fixed offsets like "+02:00" have no DST rules and read as a typo.
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(name)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/**
 * Timestamps are stored as ISO-8601 UTC strings of fixed width (`2026-11-26T12:00:00.000Z`):
 * they sort and compare as text identically in SQLite and PostgreSQL, with no time-zone
 * conversion in either driver.
 */
export function isoNow(): string {
  return new Date().toISOString();
}

export function toIso(value: Date | string | number): string {
  return new Date(value).toISOString();
}

/** A dynamic route segment as the API expects it (ids such as "IDFM:71264" arrive percent-encoded). */
export function decodeParam(value: string): string {
  if (!/%[0-9A-Fa-f]{2}/.test(value)) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Number lists shown compactly (Kafka partitions of a worker). */

/** "0-3, 7, 9-10" from [0, 1, 2, 3, 7, 9, 10]. */
export function compactRanges(numbers: readonly number[]): string {
  const sorted = [...new Set(numbers)].sort((a, b) => a - b);
  const parts: string[] = [];
  let start: number | undefined;
  let previous: number | undefined;
  for (const n of [...sorted, Number.NaN]) {
    if (start !== undefined && previous !== undefined && n === previous + 1) {
      previous = n;
      continue;
    }
    if (start !== undefined && previous !== undefined) parts.push(start === previous ? `${start}` : `${start}-${previous}`);
    start = n;
    previous = n;
  }
  return parts.join(", ");
}

/**
 * Clock times and durations as riders and operators read them: Paris wall-clock time, short durations.
 * Dates are day/month in digits ("29/11"), which reads the same in French and in British English, so the
 * formatters need no locale of their own.
 */

const PARIS = "Europe/Paris";

const hourMinute = new Intl.DateTimeFormat("en-GB", { timeZone: PARIS, hour: "2-digit", minute: "2-digit" });
const hourMinuteSecond = new Intl.DateTimeFormat("en-GB", {
  timeZone: PARIS,
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});
const dayTime = new Intl.DateTimeFormat("en-GB", {
  timeZone: PARIS,
  day: "2-digit",
  month: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

const dayMinute = new Intl.DateTimeFormat("en-GB", {
  timeZone: PARIS,
  day: "2-digit",
  month: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
});

export function parseTime(value: string | null | undefined): number | null {
  if (!value) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

/** "14:05" (Paris time). */
export function formatClock(value: string | number | null | undefined): string {
  const ms = typeof value === "number" ? value : parseTime(value);
  return ms === null ? "—" : hourMinute.format(ms);
}

/** "14:05:09" (Paris time). */
export function formatClockSeconds(value: string | number | null | undefined): string {
  const ms = typeof value === "number" ? value : parseTime(value);
  return ms === null ? "—" : hourMinuteSecond.format(ms);
}

/** "29/11, 14:05:09" (Paris time). */
export function formatDayTime(value: string | number | null | undefined): string {
  const ms = typeof value === "number" ? value : parseTime(value);
  return ms === null ? "—" : dayTime.format(ms);
}

/** A short age: "4 s", "3 min", "2 h 05", "3 d". */
export function formatAge(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${String(minutes % 60).padStart(2, "0")}`;
  return `${Math.floor(hours / 24)} d`;
}

/** "850 ms", "2.4 s". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

/** "07:12" when `value` is within the last 20 hours, else "29/11, 07:12" (Paris time): when data was last updated. */
export function formatSince(value: string | number | null | undefined, nowMs: number): string {
  const ms = typeof value === "number" ? value : parseTime(value);
  if (ms === null) return "—";
  return nowMs - ms > 20 * 3600 * 1000 ? dayMinute.format(ms) : hourMinute.format(ms);
}

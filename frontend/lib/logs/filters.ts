/**
 * The log observatory's filters and their URL form. The query string uses the API's own parameter names
 * (service, level, min_level, search, since, until), so a shared URL reproduces the exact view.
 */

import { LogLevelValues, ServiceValues } from "@/lib/api/vocabulary";

export const LOG_LEVELS = LogLevelValues;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const KNOWN_SERVICES = ServiceValues;

export interface LogFilters {
  service: string;
  /** Exactly this level. */
  level: LogLevel | "";
  /** This level or more severe. */
  minLevel: LogLevel | "";
  search: string;
  /** ISO 8601 UTC instants, "" when open. */
  since: string;
  until: string;
}

export const EMPTY_LOG_FILTERS: LogFilters = {
  service: "",
  level: "",
  minLevel: "",
  search: "",
  since: "",
  until: "",
};

const PARAM: Record<keyof LogFilters, string> = {
  service: "service",
  level: "level",
  minLevel: "min_level",
  search: "search",
  since: "since",
  until: "until",
};

function asLevel(value: string | null): LogLevel | "" {
  const upper = (value ?? "").trim().toUpperCase();
  return (LOG_LEVELS as readonly string[]).includes(upper) ? (upper as LogLevel) : "";
}

/** An ISO instant in UTC ("2025-11-29T10:00:00.000Z"), or "" when the value is not a date. */
export function asInstant(value: string | null | undefined): string {
  if (!value) return "";
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? "" : new Date(ms).toISOString();
}

interface SearchParamsLike {
  get(name: string): string | null;
}

export function parseLogFilters(params: SearchParamsLike): LogFilters {
  return {
    service: (params.get(PARAM.service) ?? "").trim(),
    level: asLevel(params.get(PARAM.level)),
    minLevel: asLevel(params.get(PARAM.minLevel)),
    search: params.get(PARAM.search) ?? "",
    since: asInstant(params.get(PARAM.since)),
    until: asInstant(params.get(PARAM.until)),
  };
}

/** The filters as API query parameters, without the empty ones, in a fixed order. */
export function logFiltersToQuery(filters: LogFilters): Record<string, string> {
  const query: Record<string, string> = {};
  for (const key of Object.keys(PARAM) as (keyof LogFilters)[]) {
    const value = key === "search" ? filters[key].trim() : filters[key];
    if (value) query[PARAM[key]] = value;
  }
  return query;
}

export function logFiltersToSearchParams(filters: LogFilters): URLSearchParams {
  return new URLSearchParams(logFiltersToQuery(filters));
}

/** The query of the live tail: every filter but the time range (the stream only carries new records). */
export function logStreamQuery(filters: LogFilters): URLSearchParams {
  const query = new URLSearchParams();
  if (filters.service) query.set("service", filters.service);
  if (filters.level) query.set("level", filters.level);
  if (filters.minLevel) query.set("min_level", filters.minLevel);
  if (filters.search.trim()) query.set("search", filters.search.trim());
  return query;
}

/** Whether a streamed record passes the filters on screen (a safety net: the stream filters on the server too). */
export function matchesClientSideFilters(
  record: { level: string; created_at: string },
  filters: LogFilters,
): boolean {
  if (filters.level && record.level.toUpperCase() !== filters.level) return false;
  const at = Date.parse(record.created_at);
  if (filters.since && at < Date.parse(filters.since)) return false;
  if (filters.until && at > Date.parse(filters.until)) return false;
  return true;
}

/** `<input type="datetime-local">` value (browser's local time) for an ISO instant, and back. */
export function instantToLocalInput(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return "";
  const date = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(
    date.getMinutes(),
  )}`;
}

export function localInputToInstant(value: string): string {
  // A datetime-local value has no zone: Date parses it as the browser's local time.
  return value ? asInstant(value) : "";
}

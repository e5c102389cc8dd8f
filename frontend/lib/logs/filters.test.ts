import { describe, expect, it } from "vitest";

import {
  EMPTY_LOG_FILTERS,
  instantToLocalInput,
  localInputToInstant,
  logFiltersToQuery,
  logFiltersToSearchParams,
  logStreamQuery,
  matchesClientSideFilters,
  parseLogFilters,
  type LogFilters,
} from "./filters";

const FULL: LogFilters = {
  service: "worker",
  level: "ERROR",
  minLevel: "WARNING",
  search: "timeout ligne 1 & é",
  since: "2025-11-29T09:00:00.000Z",
  until: "2025-11-29T10:30:00.000Z",
};

describe("log filters in the URL", () => {
  it("round-trips every filter through the query string", () => {
    const url = `/admin/logs?${logFiltersToSearchParams(FULL).toString()}`;
    const parsed = parseLogFilters(new URL(url, "http://dashboard.test").searchParams);
    expect(parsed).toEqual(FULL);
  });

  it("round-trips the empty view to an empty query string", () => {
    expect(logFiltersToSearchParams(EMPTY_LOG_FILTERS).toString()).toBe("");
    expect(parseLogFilters(new URLSearchParams(""))).toEqual(EMPTY_LOG_FILTERS);
  });

  it("uses the API's parameter names, so the URL reads like the API call", () => {
    expect(logFiltersToSearchParams(FULL).toString()).toBe(
      "service=worker&level=ERROR&min_level=WARNING&search=timeout+ligne+1+%26+%C3%A9" +
        "&since=2025-11-29T09%3A00%3A00.000Z&until=2025-11-29T10%3A30%3A00.000Z",
    );
  });

  it("normalises what a person may type in the URL and drops what is invalid", () => {
    const parsed = parseLogFilters(
      new URLSearchParams("level=error&min_level=LOUD&since=2025-11-29T10:00:00%2B01:00&until=yesterday"),
    );
    expect(parsed.level).toBe("ERROR");
    expect(parsed.minLevel).toBe("");
    expect(parsed.since).toBe("2025-11-29T09:00:00.000Z");
    expect(parsed.until).toBe("");
  });

  it("leaves blank text out of the API query", () => {
    expect(logFiltersToQuery({ ...EMPTY_LOG_FILTERS, search: "   " })).toEqual({});
  });
});

describe("live tail", () => {
  it("streams with the filters but not the time range", () => {
    expect(logStreamQuery(FULL).toString()).toBe(
      "service=worker&level=ERROR&min_level=WARNING&search=timeout+ligne+1+%26+%C3%A9",
    );
  });

  it("keeps streamed records inside the level and time range on screen", () => {
    const record = { level: "ERROR", created_at: "2025-11-29T10:00:00Z" };
    expect(matchesClientSideFilters(record, FULL)).toBe(true);
    expect(matchesClientSideFilters({ ...record, level: "WARNING" }, FULL)).toBe(false);
    expect(matchesClientSideFilters({ ...record, created_at: "2025-11-29T11:00:00Z" }, FULL)).toBe(false);
  });
});

describe("datetime-local inputs", () => {
  it("convert an instant to local time and back", () => {
    const instant = "2025-11-29T09:05:00.000Z";
    expect(localInputToInstant(instantToLocalInput(instant))).toBe(instant);
    expect(localInputToInstant("")).toBe("");
  });
});

"use client";

import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useMemo, useState } from "react";

import { useTranslations } from "next-intl";

import { QueryError } from "@/components/status/QueryError";
import { PageSections } from "@/components/ui/PageSections";
import { useLogs } from "@/lib/api/queries";
import type { LogRecord } from "@/lib/api/types";
import { formatClockSeconds } from "@/lib/format/time";
import { logFiltersToQuery, logFiltersToSearchParams, parseLogFilters, type LogFilters } from "@/lib/logs/filters";
import { useLiveTail, type LiveTailStatus } from "@/lib/logs/useLiveTail";

import { LogFiltersForm } from "./LogFiltersForm";
import { LogList } from "./LogList";

const STATUS_TEXT: Record<LiveTailStatus, string> = {
  off: "",
  connecting: "connecting…",
  live: "live",
  reconnecting: "connection lost, reconnecting…",
  closed: "stream refused or closed",
};

/** Newest first; ids break ties between records of the same instant. */
function newestFirst(a: LogRecord, b: LogRecord): number {
  const byTime = Date.parse(b.created_at) - Date.parse(a.created_at);
  return byTime || String(b.id).localeCompare(String(a.id), undefined, { numeric: true });
}

/**
 * The log observatory. The filters live in the URL query string (the API's parameter names), so
 * reloading or sharing the URL reproduces the view; the live tail adds streamed records on top.
 */
export function LogObservatory() {
  const router = useRouter();
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const filters = useMemo(() => parseLogFilters(searchParams), [searchParams]);
  const query = useMemo(() => logFiltersToQuery(filters), [filters]);
  const logs = useLogs(query);
  const [live, setLive] = useState(false);
  const tail = useLiveTail(filters, live);

  function applyFilters(next: LogFilters) {
    const qs = logFiltersToSearchParams(next).toString();
    router.replace(qs ? `${pathname}?${qs}` : pathname, { scroll: false });
  }

  const records = useMemo(() => {
    const fetched = logs.data?.pages.flatMap((page) => page.items) ?? [];
    const byId = new Map<string, LogRecord>();
    for (const record of [...tail.records, ...fetched]) byId.set(String(record.id), record);
    return [...byId.values()].sort(newestFirst);
  }, [tail.records, logs.data]);

  const t = useTranslations("admin");
  return (
    <div className="stack">
      <div className="section-head">
        <h1>Log observatory</h1>
        <div className="button-row">
          <button
            type="button"
            className={`button${live ? " button-primary" : ""}`}
            aria-pressed={live}
            onClick={() => {
              setLive((on) => !on);
              tail.setPaused(false);
            }}
            data-testid="live-tail-toggle"
          >
            <span aria-hidden="true" className={live ? "live-pulse" : "live-off"} /> Live tail
          </button>
          {live ? (
            <button
              type="button"
              className="button"
              aria-pressed={tail.paused}
              onClick={() => tail.setPaused(!tail.paused)}
              data-testid="live-tail-pause"
            >
              {tail.paused ? `Resume${tail.pendingCount ? ` (${tail.pendingCount} new)` : ""}` : "Pause"}
            </button>
          ) : null}
          {live && tail.status === "closed" ? (
            <button type="button" className="button" onClick={tail.reconnect}>
              Reconnect
            </button>
          ) : null}
          <button type="button" className="button button-quiet" onClick={() => logs.refetch()} disabled={logs.isFetching}>
            Refresh
          </button>
        </div>
      </div>
      <PageSections
        sections={[
          { id: "log-filters", label: t("nav.filters") },
          { id: "log-records", label: t("nav.records") },
          ...(logs.hasNextPage ? [{ id: "load-older", label: t("nav.older") }] : []),
        ]}
      />
      <div id="log-filters">
        <LogFiltersForm filters={filters} onChange={applyFilters} />
      </div>
      <p className="summary" aria-live="polite" data-testid="log-summary" id="log-records">
        {logs.isPending && !logs.data
          ? "Loading logs…"
          : `${records.length} record${records.length === 1 ? "" : "s"}${
              logs.dataUpdatedAt ? ` · fetched ${formatClockSeconds(logs.dataUpdatedAt)}` : ""
            }${live ? ` · live tail ${STATUS_TEXT[tail.status]}${tail.paused ? " (paused)" : ""}` : ""}`}
      </p>
      {logs.isError ? <QueryError error={logs.error} what="the logs" /> : null}
      {records.length ? (
        <LogList records={records} />
      ) : logs.isSuccess ? (
        <p className="empty">No log record matches these filters.</p>
      ) : null}
      {logs.hasNextPage ? (
        <button
          type="button"
          className="button"
          onClick={() => logs.fetchNextPage()}
          disabled={logs.isFetchingNextPage}
          data-testid="load-older"
          id="load-older"
        >
          {logs.isFetchingNextPage ? "Loading…" : "Load older"}
        </button>
      ) : null}
      {records.length ? (
        <p>
          <a href="#main">{t("nav.top")}</a>
        </p>
      ) : null}
    </div>
  );
}

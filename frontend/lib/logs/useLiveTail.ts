"use client";

import { useCallback, useEffect, useRef, useState } from "react";

import { logStreamUrl } from "@/lib/api/client";
import type { LogRecord } from "@/lib/api/types";

import { logStreamQuery, matchesClientSideFilters, type LogFilters } from "./filters";

export type LiveTailStatus = "off" | "connecting" | "live" | "reconnecting" | "closed";

/** Records kept on screen by the live tail; older ones drop off (they remain searchable). */
export const LIVE_TAIL_LIMIT = 500;

function isLogRecord(value: unknown): value is LogRecord {
  if (!value || typeof value !== "object") return false;
  const record = value as Partial<LogRecord>;
  return record.id !== undefined && typeof record.created_at === "string" && typeof record.message === "string";
}

/**
 * Follows GET /api/system/logs/stream (server-sent events, through the dashboard's proxy) while `enabled`.
 * While paused, new records wait in `pending` and show up on resume. Changing the filters restarts the tail.
 */
export function useLiveTail(filters: LogFilters, enabled: boolean) {
  const [records, setRecords] = useState<LogRecord[]>([]);
  const [pending, setPending] = useState<LogRecord[]>([]);
  const [status, setStatus] = useState<LiveTailStatus>("off");
  const [paused, setPausedState] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const pausedRef = useRef(paused);
  const streamKey = logStreamQuery(filters).toString();

  useEffect(() => {
    pausedRef.current = paused;
  }, [paused]);

  useEffect(() => {
    setRecords([]);
    setPending([]);
    if (!enabled) {
      setStatus("off");
      return;
    }
    setStatus("connecting");
    const source = new EventSource(logStreamUrl(new URLSearchParams(streamKey)));
    const onRecord = (event: MessageEvent<string>) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!isLogRecord(parsed) || !matchesClientSideFilters(parsed, filters)) return;
      const add = (list: LogRecord[]) => [parsed as LogRecord, ...list].slice(0, LIVE_TAIL_LIMIT);
      if (pausedRef.current) setPending(add);
      else setRecords(add);
    };
    source.onopen = () => setStatus("live");
    source.onmessage = onRecord;
    source.addEventListener("log", onRecord as EventListener);
    // EventSource reconnects by itself after network errors; a refused request (401, 5xx) closes it.
    source.onerror = () => setStatus(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
    return () => source.close();
    // `filters` matter through streamKey and the client-side checks (level, since, until).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [enabled, streamKey, filters.level, filters.since, filters.until, attempt]);

  const setPaused = useCallback((value: boolean) => {
    setPausedState(value);
    if (!value) {
      setPending((waiting) => {
        if (waiting.length) setRecords((shown) => [...waiting, ...shown].slice(0, LIVE_TAIL_LIMIT));
        return [];
      });
    }
  }, []);

  const reconnect = useCallback(() => setAttempt((n) => n + 1), []);

  return { records, pendingCount: pending.length, status, paused, setPaused, reconnect };
}

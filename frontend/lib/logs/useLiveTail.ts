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

/** What the tail shows and what waits for a resume, in one state so that an update never calls another setter. */
interface TailState {
  records: LogRecord[];
  pending: LogRecord[];
}

const EMPTY: TailState = { records: [], pending: [] };

/**
 * Follows GET /api/system/logs/stream (server-sent events, through the dashboard's proxy) while `enabled`.
 * While paused, new records wait in `pending` and show up on resume. Changing the filters restarts the tail.
 */
export function useLiveTail(filters: LogFilters, enabled: boolean) {
  // Updaters stay pure: React runs them twice under strict mode, so one that called another setter (as resuming once
  // did, moving `pending` into `records` from inside the `pending` updater) would prepend the records twice.
  const [tail, setTail] = useState<TailState>(EMPTY);
  const [status, setStatus] = useState<LiveTailStatus>("off");
  const [paused, setPausedState] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const pausedRef = useRef(paused);
  const streamKey = logStreamQuery(filters).toString();

  useEffect(() => {
    pausedRef.current = paused;
  }, [paused]);

  useEffect(() => {
    setTail(EMPTY);
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
      const record = parsed;
      const add = (list: LogRecord[]) => [record, ...list].slice(0, LIVE_TAIL_LIMIT);
      if (pausedRef.current) setTail((state) => ({ ...state, pending: add(state.pending) }));
      else setTail((state) => ({ ...state, records: add(state.records) }));
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
      setTail((state) =>
        state.pending.length
          ? { records: [...state.pending, ...state.records].slice(0, LIVE_TAIL_LIMIT), pending: [] }
          : state,
      );
    }
  }, []);

  const reconnect = useCallback(() => setAttempt((n) => n + 1), []);

  return { records: tail.records, pendingCount: tail.pending.length, status, paused, setPaused, reconnect };
}

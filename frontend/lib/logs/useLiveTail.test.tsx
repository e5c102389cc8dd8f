// @vitest-environment jsdom
import { act, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, expect, test } from "vitest";

import type { LogRecord } from "@/lib/api/types";

import { EMPTY_LOG_FILTERS } from "./filters";
import { useLiveTail } from "./useLiveTail";

/** The browser's EventSource, played by the test: it delivers the server-sent events the test gives it. */
class ScriptedEventSource {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  static opened: ScriptedEventSource[] = [];

  readyState = ScriptedEventSource.CONNECTING;
  onopen: (() => void) | null = null;
  onmessage: ((event: MessageEvent<string>) => void) | null = null;
  onerror: (() => void) | null = null;
  private listeners = new Map<string, ((event: MessageEvent<string>) => void)[]>();

  constructor(readonly url: string) {
    ScriptedEventSource.opened.push(this);
  }

  addEventListener(type: string, listener: (event: MessageEvent<string>) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  close() {
    this.readyState = ScriptedEventSource.CLOSED;
  }

  send(record: LogRecord) {
    const event = new MessageEvent("log", { data: JSON.stringify(record) });
    for (const listener of this.listeners.get("log") ?? []) listener(event);
  }

  static current(): ScriptedEventSource {
    const open = ScriptedEventSource.opened.filter((source) => source.readyState !== ScriptedEventSource.CLOSED);
    expect(open).toHaveLength(1);
    return open[0]!;
  }
}

const realEventSource = globalThis.EventSource;

beforeEach(() => {
  ScriptedEventSource.opened = [];
  globalThis.EventSource = ScriptedEventSource as unknown as typeof EventSource;
});

afterEach(() => {
  globalThis.EventSource = realEventSource;
});

function record(id: number): LogRecord {
  return {
    id,
    created_at: new Date(Date.UTC(2026, 0, 1, 12, 0, id)).toISOString(),
    service: "worker",
    level: "INFO",
    level_no: 20,
    logger: "backend.workers",
    message: `record ${id}`,
    extra: {},
    host: null,
    pid: null,
  } as LogRecord;
}

function tail() {
  return renderHook(() => useLiveTail(EMPTY_LOG_FILTERS, true), { reactStrictMode: true });
}

test("records that arrived while paused are shown once on resume, under strict mode", () => {
  const { result } = tail();
  act(() => ScriptedEventSource.current().send(record(1)));
  act(() => result.current.setPaused(true));
  act(() => {
    ScriptedEventSource.current().send(record(2));
    ScriptedEventSource.current().send(record(3));
  });
  expect(result.current.pendingCount).toBe(2);
  expect(result.current.records.map((r) => r.id)).toEqual([1]);

  act(() => result.current.setPaused(false));

  expect(result.current.records.map((r) => r.id)).toEqual([3, 2, 1]);
  expect(result.current.pendingCount).toBe(0);
});

test("live records are prepended once each, under strict mode", () => {
  const { result } = tail();
  act(() => {
    ScriptedEventSource.current().send(record(1));
    ScriptedEventSource.current().send(record(2));
  });
  expect(result.current.records.map((r) => r.id)).toEqual([2, 1]);
});

test("resuming with nothing pending keeps the records as they are", () => {
  const { result } = tail();
  act(() => ScriptedEventSource.current().send(record(1)));
  const shown = result.current.records;
  act(() => result.current.setPaused(true));
  act(() => result.current.setPaused(false));
  expect(result.current.records).toBe(shown);
});

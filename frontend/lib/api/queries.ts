/**
 * TanStack Query hooks over the typed client: one per endpoint, each with its polling interval.
 * Polling keeps the previous data while refetching (`keepPreviousData`) so boards never blank out.
 */
import {
  keepPreviousData,
  useInfiniteQuery,
  useMutation,
  useQuery,
  useQueryClient,
} from "@tanstack/react-query";

import { api, unwrap } from "./client";
import type { ScaleRequest } from "./types";
import { TaskStatusValues } from "./vocabulary";

/** How often each kind of page refreshes on its own. */
export const REFRESH_MS = {
  rider: 15_000,
  admin: 3_000,
  /** Line health reads every line's latest fetch: heavier than the other operator calls. */
  health: 10_000,
  meta: 60_000,
} as const;

export const queryKeys = {
  meta: ["meta"] as const,
  lines: ["lines"] as const,
  line: (network: string, code: string) => ["line", network.toLowerCase(), code.toLowerCase()] as const,
  station: (stationId: string) => ["station", stationId] as const,
  stationSearch: (q: string) => ["station-search", q] as const,
  system: ["system"] as const,
  queue: ["system", "queue"] as const,
  workers: ["system", "workers"] as const,
  dbSummary: ["system", "db-summary"] as const,
  lineHealth: (problemsOnly: boolean) => ["system", "lines", problemsOnly] as const,
  tasks: (status: string) => ["system", "tasks", status] as const,
  logs: (query: Record<string, string>) => ["system", "logs", query] as const,
  budget: ["system", "budget"] as const,
};

export function useMeta() {
  return useQuery({
    queryKey: queryKeys.meta,
    queryFn: async ({ signal }) => unwrap(await api.GET("/api/meta", { signal })),
    refetchInterval: REFRESH_MS.meta,
    staleTime: REFRESH_MS.meta,
  });
}

export function useLines() {
  return useQuery({
    queryKey: queryKeys.lines,
    queryFn: async ({ signal }) => unwrap(await api.GET("/api/lines", { signal })),
    refetchInterval: REFRESH_MS.rider,
    placeholderData: keepPreviousData,
  });
}

export function useLine(network: string, code: string) {
  return useQuery({
    queryKey: queryKeys.line(network, code),
    queryFn: async ({ signal }) =>
      unwrap(await api.GET("/api/lines/{network}/{code}", { params: { path: { network, code } }, signal })),
    refetchInterval: REFRESH_MS.rider,
    placeholderData: keepPreviousData,
  });
}

export function useStation(stationId: string) {
  return useQuery({
    queryKey: queryKeys.station(stationId),
    queryFn: async ({ signal }) =>
      unwrap(await api.GET("/api/stations/{station_id}", { params: { path: { station_id: stationId } }, signal })),
    refetchInterval: REFRESH_MS.rider,
    placeholderData: keepPreviousData,
  });
}

/** Searches once the (already debounced) text has 2 characters; the API ignores accents and case. */
export function useStationSearch(text: string, limit = 8) {
  const q = text.trim();
  return useQuery({
    queryKey: queryKeys.stationSearch(q.toLowerCase()),
    queryFn: async ({ signal }) =>
      unwrap(await api.GET("/api/stations/search", { params: { query: { q, limit } }, signal })),
    enabled: q.length >= 2,
    placeholderData: keepPreviousData,
    staleTime: 60_000,
  });
}

/** The stations nearest to a position the rider chose to share (null: nothing asked yet). */
export function useNearStations(position: { lat: number; lon: number } | null, limit = 5) {
  return useQuery({
    queryKey: ["stations-near", position?.lat, position?.lon, limit],
    queryFn: async ({ signal }) =>
      unwrap(
        await api.GET("/api/stations/near", {
          params: { query: { lat: position!.lat, lon: position!.lon, limit } },
          signal,
        }),
      ),
    enabled: position !== null,
    staleTime: 60_000,
  });
}

export function useQueue() {
  return useQuery({
    queryKey: queryKeys.queue,
    queryFn: async ({ signal }) => unwrap(await api.GET("/api/system/queue", { signal })),
    refetchInterval: REFRESH_MS.admin,
    placeholderData: keepPreviousData,
  });
}

export function useWorkers() {
  return useQuery({
    queryKey: queryKeys.workers,
    queryFn: async ({ signal }) => unwrap(await api.GET("/api/system/workers", { signal })),
    refetchInterval: REFRESH_MS.admin,
    placeholderData: keepPreviousData,
  });
}

export function useDbSummary() {
  return useQuery({
    queryKey: queryKeys.dbSummary,
    queryFn: async ({ signal }) => unwrap(await api.GET("/api/system/db/summary", { signal })),
    refetchInterval: REFRESH_MS.admin,
    placeholderData: keepPreviousData,
  });
}

/** Lines that are not ok, or that have stations without an id (or every line), with the technical detail. */
export function useLineHealth(problemsOnly = true) {
  return useQuery({
    queryKey: queryKeys.lineHealth(problemsOnly),
    queryFn: async ({ signal }) =>
      unwrap(await api.GET("/api/system/lines", { params: { query: { problems: problemsOnly } }, signal })),
    refetchInterval: REFRESH_MS.health,
    placeholderData: keepPreviousData,
  });
}

export const TASK_STATUSES = TaskStatusValues;
export type TaskStatusFilter = (typeof TASK_STATUSES)[number] | "";

export function useTaskRuns(status: TaskStatusFilter, limit = 20) {
  return useInfiniteQuery({
    queryKey: queryKeys.tasks(status),
    queryFn: async ({ signal, pageParam }) =>
      unwrap(
        await api.GET("/api/system/tasks", {
          params: { query: { limit, ...(status ? { status } : {}), ...(pageParam ? { cursor: pageParam } : {}) } },
          signal,
        }),
      ),
    initialPageParam: "",
    getNextPageParam: (page) => page.next_cursor ?? undefined,
    refetchInterval: REFRESH_MS.admin,
    placeholderData: keepPreviousData,
  });
}

/** Logs matching the filters, newest first, with "load older" through the API's cursor. */
export function useLogs(query: Record<string, string>, limit = 100) {
  return useInfiniteQuery({
    queryKey: queryKeys.logs(query),
    queryFn: async ({ signal, pageParam }) =>
      unwrap(
        await api.GET("/api/system/logs", {
          params: { query: { ...query, limit, ...(pageParam ? { cursor: pageParam } : {}) } },
          signal,
        }),
      ),
    initialPageParam: "",
    getNextPageParam: (page) => page.next_cursor ?? undefined,
    placeholderData: keepPreviousData,
  });
}

/** After a change to the fleet: refetch queue, workers, summary and tasks at once (not the logs). */
function invalidateFleet(client: ReturnType<typeof useQueryClient>) {
  return client.invalidateQueries({
    queryKey: queryKeys.system,
    predicate: (query) => query.queryKey[1] !== "logs",
  });
}

export function useBudget() {
  return useQuery({
    queryKey: queryKeys.budget,
    queryFn: async ({ signal }) => unwrap(await api.GET("/api/system/budget", { signal })),
    refetchInterval: REFRESH_MS.admin,
    placeholderData: keepPreviousData,
  });
}

export function useRetryPrimKey() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/system/prim/key/retry")),
    onSettled: () => client.invalidateQueries({ queryKey: queryKeys.budget }),
  });
}

export function useScaleWorkers() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (body: ScaleRequest) => unwrap(await api.POST("/api/system/workers/scale", { body })),
    onSettled: () => invalidateFleet(client),
  });
}

export function useTriggerScheduler() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/system/scheduler/trigger")),
    onSettled: () => invalidateFleet(client),
  });
}

/**
 * A line's real shape in one direction, from its ordered routes (the API gives one route per branch pair, each
 * repeating the shared trunk: `LineDetail.directions[].branches`). The routes are merged into one graph of stations
 * (an edge per pair of consecutive stations), cut into segments (runs of stations with no fork or merge inside),
 * and the segments laid out in rows: segments side by side in a row run in parallel (branches that merge into the
 * same trunk, or fork from it). So RER A towards Marne-la-Vallée draws Cergy-le-Haut and Poissy side by side, then
 * their common section beside Saint-Germain-en-Laye, the trunk once, then Boissy-Saint-Léger beside
 * Marne-la-Vallée Chessy; every station appears once.
 *
 * Pure, so it is tested on the catalogue's own routes. Routes that do not form an acyclic graph (a loop run both
 * ways) are drawn as they come, one route per row, rather than wrongly.
 */

export interface TopologyStation {
  station_id: string;
  name: string;
}

/**
 * - `trunk`: the line's only segment, or one all its trains run through;
 * - `source`: a branch the line starts on, merging into the trunk;
 * - `fork`: a branch the line ends on, forking from the trunk;
 * - `parallel`: one of two paths between a fork and a merge (the metro 10 loop);
 * - `route`: a whole route, when the routes could not be merged.
 */
export type SegmentKind = "trunk" | "source" | "fork" | "parallel" | "route";

export interface Segment<T extends TopologyStation> {
  id: number;
  kind: SegmentKind;
  stations: T[];
  /** The station this segment is entered from (it forks there): trains between the two are drawn at its top. */
  entry: T | null;
  /** The station this segment runs into (it merges there): trains between the two are drawn at its bottom. */
  exit: T | null;
}

export interface Topology<T extends TopologyStation> {
  /** Segments row by row, top to bottom; the segments of one row run side by side. */
  rows: Segment<T>[][];
  /** Distinct stations, each counted once however many routes call at it. */
  stationCount: number;
  /** Where the direction's trains start and end, each name once, main route first. */
  origins: string[];
  termini: string[];
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function asRoutes<T extends TopologyStation>(routes: readonly (readonly T[])[]): Topology<T> {
  const rows = routes
    .filter((route) => route.length)
    .map((route, id): Segment<T>[] => [{ id, kind: "route", stations: [...route], entry: null, exit: null }]);
  const ids = new Set(routes.flatMap((route) => route.map((s) => s.station_id)));
  return {
    rows,
    stationCount: ids.size,
    origins: unique(routes.flatMap((route) => (route[0] ? [route[0].name] : []))),
    termini: unique(routes.flatMap((route) => (route.length ? [route[route.length - 1]!.name] : []))),
  };
}

/** Merges a direction's ordered routes (main route first) into segments laid out in rows. */
export function buildTopology<T extends TopologyStation>(routes: readonly (readonly T[])[]): Topology<T> {
  const byId = new Map<string, T>();
  const successors = new Map<string, string[]>();
  const predecessors = new Map<string, string[]>();
  const link = (map: Map<string, string[]>, from: string, to: string) => {
    const list = map.get(from) ?? [];
    if (!list.includes(to)) list.push(to);
    map.set(from, list);
  };
  for (const route of routes) {
    route.forEach((station, i) => {
      if (!byId.has(station.station_id)) byId.set(station.station_id, station);
      const next = route[i + 1];
      if (next) {
        if (next.station_id === station.station_id) return;
        link(successors, station.station_id, next.station_id);
        link(predecessors, next.station_id, station.station_id);
      }
    });
  }
  const outs = (id: string) => successors.get(id) ?? [];
  const ins = (id: string) => predecessors.get(id) ?? [];

  // Kahn's algorithm, taking stations in their order of first appearance (main route first) when free to choose.
  const order = [...byId.keys()];
  const rank = new Map(order.map((id, i) => [id, i]));
  const remaining = new Map(order.map((id) => [id, ins(id).length]));
  const ready = order.filter((id) => remaining.get(id) === 0);
  const sorted: string[] = [];
  while (ready.length) {
    ready.sort((a, b) => rank.get(a)! - rank.get(b)!);
    const id = ready.shift()!;
    sorted.push(id);
    for (const next of outs(id)) {
      const left = remaining.get(next)! - 1;
      remaining.set(next, left);
      if (left === 0) ready.push(next);
    }
  }
  if (sorted.length !== order.length) return asRoutes(routes);

  // Segments: a station starts one unless it continues the single path of its single predecessor.
  const segmentOf = new Map<string, number>();
  const segments: Segment<T>[] = [];
  const continues = (id: string) => {
    const before = ins(id);
    return before.length === 1 && outs(before[0]!).length === 1;
  };
  for (const start of sorted) {
    if (segmentOf.has(start) || continues(start)) continue;
    const stations = [byId.get(start)!];
    segmentOf.set(start, segments.length);
    let current = start;
    while (outs(current).length === 1 && continues(outs(current)[0]!)) {
      current = outs(current)[0]!;
      segmentOf.set(current, segments.length);
      stations.push(byId.get(current)!);
    }
    segments.push({ id: segments.length, kind: "trunk", stations, entry: null, exit: null });
  }

  // Edges between segments: drawn at the bottom of the segment that merges, else at the top of the one that forks.
  const segmentSuccessors = segments.map(() => new Set<number>());
  const segmentPredecessors = segments.map(() => new Set<number>());
  for (const [from, tos] of successors) {
    for (const to of tos) {
      const a = segmentOf.get(from)!;
      const b = segmentOf.get(to)!;
      if (a === b) continue;
      segmentSuccessors[a]!.add(b);
      segmentPredecessors[b]!.add(a);
      const merging = ins(to).length > 1;
      if (merging && !segments[a]!.exit) segments[a]!.exit = byId.get(to)!;
      else if (!segments[b]!.entry) segments[b]!.entry = byId.get(from)!;
    }
  }

  // Rows: the longest chain of segments leading to each; a branch the line starts on sits just above the segment
  // it merges into, beside the other segments merging there.
  const depth = segments.map(() => 0);
  for (const segment of segments) {
    for (const next of segmentSuccessors[segment.id]!) depth[next] = Math.max(depth[next]!, depth[segment.id]! + 1);
  }
  const row = [...depth];
  for (const segment of segments) {
    const nexts = [...segmentSuccessors[segment.id]!];
    if (!segmentPredecessors[segment.id]!.size && nexts.length) {
      row[segment.id] = Math.max(0, Math.min(...nexts.map((n) => depth[n]!)) - 1);
    }
  }

  const sources = segments.filter((s) => !segmentPredecessors[s.id]!.size);
  const sinks = segments.filter((s) => !segmentSuccessors[s.id]!.size);
  for (const segment of segments) {
    const isSource = !segmentPredecessors[segment.id]!.size;
    const isSink = !segmentSuccessors[segment.id]!.size;
    if (isSource && sources.length > 1) segment.kind = "source";
    else if (isSink && sinks.length > 1) segment.kind = "fork";
    else if (!isSource && !isSink && segments.some((s) => s !== segment && row[s.id] === row[segment.id])) {
      segment.kind = "parallel";
    }
  }

  const rows: Segment<T>[][] = [];
  for (const segment of segments) (rows[row[segment.id]!] ??= []).push(segment);
  return {
    rows: rows.filter((r) => r && r.length),
    stationCount: byId.size,
    origins: unique(sources.map((s) => s.stations[0]!.name)),
    termini: unique(sinks.map((s) => s.stations[s.stations.length - 1]!.name)),
  };
}

/**
 * Domain names for the API's shapes, taken from the generated OpenAPI types (schema.d.ts).
 * Nothing here is written twice: if the backend renames a schema, only this file changes.
 */
import type { components, paths } from "./schema";

type Schemas = components["schemas"];
type Method = "get" | "post";
/** The JSON body of a path's 200 response; keyed by path, not operationId, which FastAPI derives from names. */
type JsonOf<Path extends keyof paths, M extends Method = "get"> = paths[Path][M] extends {
  responses: { 200: { content: { "application/json": infer Body } } };
}
  ? Body
  : never;

export type Meta = JsonOf<"/api/meta">;
export type LineCatalogue = JsonOf<"/api/lines">;
export type NetworkLines = LineCatalogue["networks"][number];
export type LineSummary = NetworkLines["lines"][number];
export type Network = LineSummary["network"];
export type TrafficInfo = NonNullable<LineSummary["traffic"]>;
export type TrafficLevel = TrafficInfo["level"];
export type Freshness = LineSummary["freshness"];
export type FreshnessStatus = Freshness["status"];
export type FreshnessReason = NonNullable<Freshness["reason"]>;
export type LinesSummary = LineCatalogue["summary"];

export type LineDetail = JsonOf<"/api/lines/{network}/{code}">;
export type Direction = LineDetail["directions"][number];
export type Branch = Direction["branches"][number];
export type StationBoard = Branch["stations"][number];
export type Departure = StationBoard["departures"][number];
export type DepartureStatus = Departure["status"];
export type VehiclePosition = LineDetail["vehicles"][number];
export type StopFreshness = StationBoard["freshness"];
export type LineDisruption = NonNullable<LineDetail["disruptions"]>[number];

export type StationMatch = JsonOf<"/api/stations/search">[number];
export type NearbyStation = JsonOf<"/api/stations/near">[number];
export type LineRef = StationMatch["lines"][number];
export type StationDetail = JsonOf<"/api/stations/{station_id}">;
export type LineFreshness = StationDetail["freshness"][number];

export type ScaleRequest = Schemas["ScaleRequest"];
export type ScaleResult = JsonOf<"/api/system/workers/scale", "post">;
export type DbSummary = JsonOf<"/api/system/db/summary">;
export type DepartureHighlight = DbSummary["recent_departures"][number];
export type WorkerInfo = JsonOf<"/api/system/workers">[number];
export type WorkerStatus = WorkerInfo["status"];
export type SourceCircuit = WorkerInfo["circuits"][number];
export type QueueInfo = JsonOf<"/api/system/queue">;
export type SchedulerRunInfo = JsonOf<"/api/system/scheduler/trigger", "post">;
export type TaskRunPage = JsonOf<"/api/system/tasks">;
export type TaskRunInfo = TaskRunPage["items"][number];
export type LogPage = JsonOf<"/api/system/logs">;
export type LogRecord = LogPage["items"][number];
export type LineHealth = JsonOf<"/api/system/lines">[number];
export type SourceAttempt = LineHealth["attempts"][number];
export type FailedStop = LineHealth["failed_stops"][number];
export type TaskStatus = TaskRunInfo["status"];
export type BudgetReport = JsonOf<"/api/system/budget">;

import Link from "next/link";

import { DepartureTime } from "@/components/departures/DepartureTime";
import { LineBadge } from "@/components/lines/LineBadge";
import type { DepartureHighlight } from "@/lib/api/types";

export function RecentDepartures({ departures, now }: { departures: readonly DepartureHighlight[]; now: number }) {
  return (
    <section className="card" aria-labelledby="recent-title" id="recent">
      <h2 id="recent-title">Recent departure highlights</h2>
      {departures.length ? (
        <ul className="highlight-list">
          {departures.map((d, i) => (
            <li key={`${d.line.id}-${d.station_id}-${d.expected_at}-${i}`} className="highlight">
              <LineBadge line={d.line} size="sm" />
              <Link href={`/stations/${encodeURIComponent(d.station_id)}`}>{d.station_name}</Link>
              <span className="muted">→ {d.destination}</span>
              <DepartureTime
                departure={{
                  expected_at: d.expected_at,
                  aimed_at: null,
                  status: d.status,
                  vehicle_at_stop: d.status === "at_platform",
                  is_realtime: d.is_realtime,
                }}
                now={now}
              />
            </li>
          ))}
        </ul>
      ) : (
        <p className="empty">No departure stored yet.</p>
      )}
    </section>
  );
}

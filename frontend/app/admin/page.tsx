import type { Metadata } from "next";
import { cookies } from "next/headers";
import Link from "next/link";

import { LOGIN_PATH } from "@/lib/admin-paths";
import { readServerSettings } from "@/lib/server/env";
import { SESSION_COOKIE, decideAdminAccess } from "@/lib/server/session";

export const metadata: Metadata = { title: "Operators" };
export const dynamic = "force-dynamic";

export default async function AdminHome() {
  const settings = readServerSettings();
  const access = await decideAdminAccess((await cookies()).get(SESSION_COOKIE)?.value, settings);
  return (
    <div className="stack">
      <h1>Operations</h1>
      <p data-testid="admin-session">
        {access.allowed ? (
          "Signed in as operator. Sessions last 12 hours."
        ) : (
          <Link href={LOGIN_PATH}>Sign in</Link>
        )}
      </p>
      {!settings.systemApiKey ? (
        <div className="banner banner-warning" role="note">
          SYSTEM_API_KEY is not set on the dashboard server: the operator pages cannot call the system API.
        </div>
      ) : null}
      <ul className="admin-links">
        <li className="card">
          <h2>
            <Link href="/admin/orchestrator">Orchestrator</Link>
          </h2>
          <p>Queue and Kafka lag, worker fleet with add/remove, task runs, scheduler trigger.</p>
        </li>
        <li className="card">
          <h2>
            <Link href="/admin/logs">Log observatory</Link>
          </h2>
          <p>Search the centralised logs by service, level, text and time; live tail.</p>
        </li>
      </ul>
    </div>
  );
}

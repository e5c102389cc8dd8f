import type { Metadata } from "next";
import { cookies } from "next/headers";
import Link from "next/link";

import { LoginForm } from "@/components/admin/LoginForm";
import { safeNextPath } from "@/lib/admin-paths";
import { readServerSettings } from "@/lib/server/env";
import { SESSION_COOKIE, decideAdminAccess } from "@/lib/server/session";

export const metadata: Metadata = { title: "Operator sign-in" };
export const dynamic = "force-dynamic";

export default async function LoginPage({ searchParams }: { searchParams: Promise<{ next?: string | string[] }> }) {
  const { next: rawNext } = await searchParams;
  const next = safeNextPath(Array.isArray(rawNext) ? rawNext[0] : rawNext);
  const settings = readServerSettings();
  const access = await decideAdminAccess((await cookies()).get(SESSION_COOKIE)?.value, settings);

  return (
    <div className="stack narrow">
      <h1>Operator sign-in</h1>
      {access.mode === "open" ? (
        <div className="banner banner-warning" data-testid="admin-open-notice">
          <strong>ADMIN_PASSWORD is not set.</strong> In development the operator pages are open to anyone who can
          reach this dashboard. Set ADMIN_PASSWORD in <code>.env.local</code> to require a password.
          <p>
            <Link href={next}>Continue to the operator pages</Link>
          </p>
        </div>
      ) : access.mode === "locked" ? (
        <div className="banner banner-danger" role="alert" data-testid="admin-locked-notice">
          <strong>Admin is locked.</strong> ADMIN_PASSWORD is not set on this production dashboard, so nobody can sign
          in. Set ADMIN_PASSWORD (and ADMIN_SESSION_SECRET) in the dashboard&apos;s environment and restart it.
        </div>
      ) : access.allowed ? (
        <p>
          You are signed in. <Link href={next}>Continue</Link>
        </p>
      ) : (
        <LoginForm next={next} />
      )}
    </div>
  );
}

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
      {access.mode === "locked" ? (
        <div className="banner banner-danger" role="alert" data-testid="admin-locked-notice">
          <strong>Admin is locked.</strong> ADMIN_PASSWORD is not set on this dashboard, so nobody can sign in. Set
          ADMIN_PASSWORD (and ADMIN_SESSION_SECRET) in the dashboard&apos;s environment and restart it
          (<code>./serve.sh up</code> generates one in <code>.env</code>; <code>npm run dev</code> generates one in
          <code>.data/admin_password</code>).
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

import type { Metadata } from "next";
import { cookies } from "next/headers";
import Link from "next/link";
import { getTranslations } from "next-intl/server";

import { LoginForm } from "@/components/admin/LoginForm";
import { safeNextPath } from "@/lib/admin-paths";
import { readServerSettings } from "@/lib/server/env";
import { SESSION_COOKIE, decideAdminAccess } from "@/lib/server/session";

export async function generateMetadata(): Promise<Metadata> {
  return { title: (await getTranslations("operators"))("loginTitle") };
}
export const dynamic = "force-dynamic";

export default async function LoginPage({ searchParams }: { searchParams: Promise<{ next?: string | string[] }> }) {
  const { next: rawNext } = await searchParams;
  const next = safeNextPath(Array.isArray(rawNext) ? rawNext[0] : rawNext);
  const t = await getTranslations("operators");
  const settings = readServerSettings();
  const access = await decideAdminAccess((await cookies()).get(SESSION_COOKIE)?.value, settings);

  return (
    <div className="stack narrow">
      <h1>{t("loginTitle")}</h1>
      {access.mode === "locked" ? (
        <div className="banner banner-danger" role="alert" data-testid="admin-locked-notice">
          <strong>{t("lockedTitle")}</strong> {t("lockedBody")}
        </div>
      ) : access.allowed ? (
        <p>
          {t("alreadySignedIn")} <Link href={next}>{t("continue")}</Link>
        </p>
      ) : (
        <LoginForm next={next} />
      )}
    </div>
  );
}

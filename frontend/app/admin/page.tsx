import type { Metadata } from "next";
import { cookies } from "next/headers";
import Link from "next/link";
import { getTranslations } from "next-intl/server";

import { LOGIN_PATH } from "@/lib/admin-paths";
import { readServerSettings } from "@/lib/server/env";
import { SESSION_COOKIE, decideAdminAccess } from "@/lib/server/session";

export async function generateMetadata(): Promise<Metadata> {
  return { title: (await getTranslations("meta"))("operators") };
}
export const dynamic = "force-dynamic";

export default async function AdminHome() {
  const t = await getTranslations("operators");
  const settings = readServerSettings();
  const access = await decideAdminAccess((await cookies()).get(SESSION_COOKIE)?.value, settings);
  return (
    <div className="stack">
      <h1>{t("title")}</h1>
      <p data-testid="admin-session">
        {access.allowed ? (
          t("signedIn")
        ) : (
          <Link href={LOGIN_PATH}>{t("signIn")}</Link>
        )}
      </p>
      {!settings.systemApiKey ? (
        <div className="banner banner-warning" role="note">
          {t("noSystemKey")}
        </div>
      ) : null}
      <ul className="admin-links">
        <li className="card">
          <h2>
            <Link href="/admin/orchestrator">{t("orchestrator")}</Link>
          </h2>
          <p>{t("orchestratorBlurb")}</p>
        </li>
        <li className="card">
          <h2>
            <Link href="/admin/logs">{t("logsTitle")}</Link>
          </h2>
          <p>{t("logsBlurb")}</p>
        </li>
      </ul>
    </div>
  );
}

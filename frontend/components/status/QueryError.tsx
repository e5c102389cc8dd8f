import Link from "next/link";
import { useTranslations } from "next-intl";

import { ApiError, errorMessage } from "@/lib/api/errors";
import { LOGIN_PATH } from "@/lib/admin-paths";

/** A failed first load, with the API's own message; a sign-in link when the admin session is missing. */
export function QueryError({ error, what }: { error: unknown; what: string }) {
  const t = useTranslations("status");
  const unauthorised = error instanceof ApiError && error.isUnauthorised;
  return (
    <div className="banner banner-danger" role="alert">
      <strong>{t("couldNotLoad", { what })}</strong> <span>{errorMessage(error)}</span>
      {unauthorised ? (
        <p>
          <Link href={LOGIN_PATH}>{t("signIn")}</Link>
          {t("toContinue")}
        </p>
      ) : null}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  const t = useTranslations("status");
  return (
    <p className="loading" role="status">
      {t("loading", { what })}
    </p>
  );
}

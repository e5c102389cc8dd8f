import { useTranslations } from "next-intl";

import { formatAge } from "@/lib/format/time";

/** Says how old the line's boards will get when today's PRIM allowance cannot refresh it within the freshness
 * window (the planned interval comes with GET /api/lines/{network}/{code}); nothing otherwise. */
export function RefreshPlanNote({
  intervalSeconds,
  staleAfterSeconds,
}: {
  intervalSeconds: number | null | undefined;
  staleAfterSeconds: number;
}) {
  const t = useTranslations("budget");
  if (intervalSeconds === null || intervalSeconds === undefined || intervalSeconds <= staleAfterSeconds) return null;
  return (
    <p className="banner banner-info" data-testid="line-refresh-plan" data-interval={intervalSeconds}>
      {t("refreshedEvery", { every: formatAge(intervalSeconds) })}
    </p>
  );
}

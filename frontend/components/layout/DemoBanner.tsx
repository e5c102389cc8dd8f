"use client";

import { useTranslations } from "next-intl";

import { useMeta } from "@/lib/api/queries";

/** Says loudly when the stack replays recorded data (DEMO_MODE), so nobody mistakes it for live service. */
export function DemoBanner() {
  const t = useTranslations("layout");
  const { data } = useMeta();
  if (!data?.demo_mode) return null;
  return (
    <div className="demo-banner" role="note" data-testid="demo-banner">
      <strong>{t("demoTitle")}</strong> {t("demoBody")}
    </div>
  );
}

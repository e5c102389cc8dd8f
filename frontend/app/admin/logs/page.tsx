import type { Metadata } from "next";
import { getTranslations } from "next-intl/server";
import { Suspense } from "react";

import { LogObservatory } from "@/components/admin/LogObservatory";
import { Loading } from "@/components/status/QueryError";

export async function generateMetadata(): Promise<Metadata> {
  return { title: (await getTranslations("admin.logs"))("title") };
}

export default async function LogsPage() {
  const t = await getTranslations("admin.logs");
  return (
    <Suspense fallback={<Loading what={t("loadingPage")} />}>
      <LogObservatory />
    </Suspense>
  );
}

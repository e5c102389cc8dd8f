import type { Metadata } from "next";
import { getTranslations } from "next-intl/server";

import { OrchestratorConsole } from "@/components/admin/OrchestratorConsole";

export async function generateMetadata(): Promise<Metadata> {
  return { title: (await getTranslations("meta"))("orchestrator") };
}

export default function OrchestratorPage() {
  return <OrchestratorConsole />;
}

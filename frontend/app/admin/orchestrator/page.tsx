import type { Metadata } from "next";

import { OrchestratorConsole } from "@/components/admin/OrchestratorConsole";

export const metadata: Metadata = { title: "Orchestrator" };

export default function OrchestratorPage() {
  return <OrchestratorConsole />;
}

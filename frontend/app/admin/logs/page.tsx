import type { Metadata } from "next";
import { Suspense } from "react";

import { LogObservatory } from "@/components/admin/LogObservatory";
import { Loading } from "@/components/status/QueryError";

export const metadata: Metadata = { title: "Log observatory" };

export default function LogsPage() {
  return (
    <Suspense fallback={<Loading what="the log observatory" />}>
      <LogObservatory />
    </Suspense>
  );
}

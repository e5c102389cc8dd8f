import { cookies } from "next/headers";
import type { ReactNode } from "react";

import { AdminNav } from "@/components/admin/AdminNav";
import { readServerSettings } from "@/lib/server/env";
import { SESSION_COOKIE, decideAdminAccess } from "@/lib/server/session";

export const dynamic = "force-dynamic";

export default async function AdminLayout({ children }: { children: ReactNode }) {
  const access = await decideAdminAccess((await cookies()).get(SESSION_COOKIE)?.value, readServerSettings());
  return (
    <div className="admin">
      <AdminNav signedIn={access.allowed && access.mode === "password"} />
      {children}
    </div>
  );
}

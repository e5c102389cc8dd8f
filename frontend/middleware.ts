/**
 * Guards the operator side: /admin/* pages and the system part of the API proxy need an admin session
 * (see lib/server/session.ts). Pages redirect to /admin/login; the proxy answers 401 JSON.
 * The proxy route re-checks on its own, so a path that slips past this matcher is still refused.
 */
import { NextResponse, type NextRequest } from "next/server";

import { LOGIN_PATH } from "@/lib/admin-paths";
import { readServerSettings } from "@/lib/server/env";
import { isSystemProxyPath } from "@/lib/server/proxy";
import {
  ADMIN_LOCKED_MESSAGE,
  ADMIN_LOGIN_REQUIRED_MESSAGE,
  SESSION_COOKIE,
  decideAdminAccess,
} from "@/lib/server/session";

export async function middleware(request: NextRequest): Promise<NextResponse> {
  const { pathname, search } = request.nextUrl;
  const isProxy = pathname.startsWith("/api/backend/");
  if (isProxy ? !isSystemProxyPath(pathname) : pathname === LOGIN_PATH) return NextResponse.next();

  const access = await decideAdminAccess(request.cookies.get(SESSION_COOKIE)?.value, readServerSettings());
  if (access.allowed) return NextResponse.next();

  if (isProxy) {
    const locked = access.reason === "locked";
    return NextResponse.json(
      {
        detail: locked ? "admin_locked" : "admin_session_required",
        message: locked ? ADMIN_LOCKED_MESSAGE : ADMIN_LOGIN_REQUIRED_MESSAGE,
      },
      { status: 401, headers: { "cache-control": "no-store" } },
    );
  }
  // Back to the host the browser asked for (Next.js may call itself "localhost" in request.url): the session
  // cookie is per host. See also skipMiddlewareUrlNormalize in next.config.ts.
  const host = request.headers.get("host") ?? request.nextUrl.host;
  const login = new URL(LOGIN_PATH, `${request.nextUrl.protocol}//${host}`);
  login.search = new URLSearchParams({ next: `${pathname}${search}` }).toString();
  return NextResponse.redirect(login);
}

export const config = {
  runtime: "nodejs",
  matcher: ["/admin", "/admin/:path*", "/api/backend/:path*"],
};

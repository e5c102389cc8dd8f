/** Paths of the operator side, shared by middleware, pages and the login flow. */

export const ADMIN_HOME = "/admin";
export const LOGIN_PATH = "/admin/login";

/** Where to go after signing in: only a path inside /admin (never another origin, never the login page). */
export function safeNextPath(next: string | null | undefined): string {
  if (!next || !next.startsWith("/admin") || next.startsWith("//") || next.includes("\\")) return ADMIN_HOME;
  try {
    const url = new URL(next, "http://dashboard.invalid");
    if (url.origin !== "http://dashboard.invalid" || url.pathname === LOGIN_PATH) return ADMIN_HOME;
    if (url.pathname !== "/admin" && !url.pathname.startsWith("/admin/")) return ADMIN_HOME;
    return `${url.pathname}${url.search}`;
  } catch {
    return ADMIN_HOME;
  }
}

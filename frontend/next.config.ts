import type { NextConfig } from "next";
import createNextIntlPlugin from "next-intl/plugin";

/** next-intl reads each request's language and messages from i18n/request.ts. */
const withNextIntl = createNextIntlPlugin("./i18n/request.ts");

const development = process.env.NODE_ENV === "development";

// Everything from this origin. Next.js starts each page with inline scripts (the React Server Components
// payload), hence 'unsafe-inline' for scripts; `next dev` also evaluates code and talks to its reload socket.
const contentSecurityPolicy = [
  "default-src 'self'",
  `script-src 'self' 'unsafe-inline'${development ? " 'unsafe-eval'" : ""}`,
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  `connect-src 'self'${development ? " ws: wss:" : ""}`,
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const securityHeaders = [
  { key: "Content-Security-Policy", value: contentSecurityPolicy },
  { key: "X-Content-Type-Options", value: "nosniff" },
  { key: "X-Frame-Options", value: "DENY" },
  { key: "Referrer-Policy", value: "same-origin" },
  // Geolocation for the dashboard itself ("Stations near me", asked only on the rider's click), for no embedded frame.
  { key: "Permissions-Policy", value: "camera=(), microphone=(), geolocation=(self)" },
];

const nextConfig: NextConfig = {
  // `npm run build:standalone` (the Docker image) makes a self-contained server in .next/standalone;
  // a plain `npm run build` is what `npm start` (next start) serves.
  output: process.env.NEXT_OUTPUT === "standalone" ? "standalone" : undefined,
  // `npm run test:bundle` builds into its own folder so it never clobbers a running dev server's .next.
  distDir: process.env.NEXT_DIST_DIR || ".next",
  poweredByHeader: false,
  // Next.js rewrites 127.0.0.1 to "localhost" in middleware redirects; the browser would then land on another
  // host than the one it signed in on (the session cookie is per host). Keep URLs as the browser sent them.
  skipMiddlewareUrlNormalize: true,
  reactStrictMode: true,
  experimental: {
    // The sign-in and sign-out forms are the only server actions: a few bytes. The proxy route has its own limit.
    serverActions: { bodySizeLimit: Number(process.env.DASHBOARD_MAX_BODY_BYTES) || 64 * 1024 },
  },
  async headers() {
    return [{ source: "/:path*", headers: securityHeaders }];
  },
};

export default withNextIntl(nextConfig);

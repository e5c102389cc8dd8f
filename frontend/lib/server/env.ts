/**
 * The dashboard server's settings, read from the environment at request time (never at build time).
 * Only server code may import this module: it holds the system API key and the admin password.
 *
 * Variables are looked up by computed name (`process.env[name]`): Next.js inlines literal
 * `process.env.NEXT_PUBLIC_*` references into bundles at build time, which would bake the key into the build.
 */
import "server-only";

export interface ServerSettings {
  /** Where FastAPI listens, without a trailing slash. */
  backendUrl: string;
  /** The X-API-Key sent on /api/system/* requests; null when none is configured. */
  systemApiKey: string | null;
  /** The admin password; null when unset. */
  adminPassword: string | null;
  /** The secret that signs admin sessions; null to derive it from the password. */
  adminSessionSecret: string | null;
  production: boolean;
}

export const DEFAULT_BACKEND_URL = "http://127.0.0.1:8000";

/** Accepted names of the system key, first set wins (the later two for compatibility with the guide). */
export const SYSTEM_KEY_VARIABLES = ["SYSTEM_API_KEY", "SYSTEM_API_TOKEN", "NEXT_PUBLIC_SYSTEM_API_KEY"] as const;

function readVariable(name: string, env: NodeJS.ProcessEnv): string | null {
  const value = env[name]?.trim();
  return value ? value : null;
}

export function readServerSettings(env: NodeJS.ProcessEnv = process.env): ServerSettings {
  let systemApiKey: string | null = null;
  for (const name of SYSTEM_KEY_VARIABLES) {
    systemApiKey = readVariable(name, env);
    if (systemApiKey) break;
  }
  return {
    backendUrl: (readVariable("BACKEND_URL", env) ?? DEFAULT_BACKEND_URL).replace(/\/+$/, ""),
    systemApiKey,
    // The password is not trimmed: spaces may be part of it.
    adminPassword: env["ADMIN_PASSWORD"] ? (env["ADMIN_PASSWORD"] as string) : null,
    adminSessionSecret: readVariable("ADMIN_SESSION_SECRET", env),
    production: readVariable("NODE_ENV", env) === "production",
  };
}

/**
 * The dashboard server's settings, read from the environment at request time (never at build time).
 * Only server code may import this module: it holds the system API key and the admin password.
 *
 * Variables are looked up by computed name (`process.env[name]`): Next.js inlines literal
 * `process.env.NEXT_PUBLIC_*` references into bundles at build time, which would bake the key into the build.
 */
import "server-only";

import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

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
  /** Largest request body the proxy forwards (DASHBOARD_MAX_BODY_BYTES); a larger one gets 413. */
  maxBodyBytes: number;
}

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

export const DEFAULT_BACKEND_URL = "http://127.0.0.1:8000";

/** Accepted names of the system key, first set wins (the second is the backend's name for it). */
export const SYSTEM_KEY_VARIABLES = ["SYSTEM_API_KEY", "SYSTEM_API_TOKEN"] as const;

/** A secret under Next.js's public prefix can be inlined into the browser's JavaScript: refused, never read. */
export const REFUSED_PUBLIC_KEY_VARIABLE = "NEXT_PUBLIC_SYSTEM_API_KEY";
export const REFUSED_PUBLIC_KEY_MESSAGE =
  "NEXT_PUBLIC_SYSTEM_API_KEY is refused: a secret under Next.js's public prefix can be inlined into the " +
  "dashboard's JavaScript. Rename it to SYSTEM_API_KEY (the backend's SYSTEM_API_TOKEN) and restart.";

/** Where `next dev` keeps the admin password it generated when ADMIN_PASSWORD is unset. */
export const DEV_ADMIN_PASSWORD_FILE = join(".data", "admin_password");

export class InsecureDashboardConfigurationError extends Error {}

/** Throws when the environment holds a setting the dashboard refuses to start with. */
export function assertSafeEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  if (readVariable(REFUSED_PUBLIC_KEY_VARIABLE, env)) {
    throw new InsecureDashboardConfigurationError(REFUSED_PUBLIC_KEY_MESSAGE);
  }
}

/**
 * The admin password of a development server without ADMIN_PASSWORD, like the API's development key: generated
 * once, kept in DEV_ADMIN_PASSWORD_FILE (mode 600) so that it survives restarts, and printed where to find it.
 */
export function developmentAdminPassword(file: string = join(process.cwd(), DEV_ADMIN_PASSWORD_FILE)): string {
  if (existsSync(file)) {
    const kept = readFileSync(file, "utf8").trim();
    if (kept) return kept;
  }
  mkdirSync(dirname(file), { recursive: true });
  const password = randomBytes(18).toString("base64url");
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  console.warn(`no ADMIN_PASSWORD set: the admin pages' development password is in ${file}`);
  return password;
}

function readVariable(name: string, env: NodeJS.ProcessEnv): string | null {
  const value = env[name]?.trim();
  return value ? value : null;
}

function positiveInteger(text: string | null): number | null {
  if (!text || !/^\d+$/.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) && value > 0 ? value : null;
}

export function readServerSettings(env: NodeJS.ProcessEnv = process.env): ServerSettings {
  assertSafeEnvironment(env);
  let systemApiKey: string | null = null;
  for (const name of SYSTEM_KEY_VARIABLES) {
    systemApiKey = readVariable(name, env);
    if (systemApiKey) break;
  }
  return {
    backendUrl: (readVariable("BACKEND_URL", env) ?? DEFAULT_BACKEND_URL).replace(/\/+$/, ""),
    systemApiKey,
    // The password is not trimmed: spaces may be part of it. Never open without one: `next dev` generates one,
    // and a production server without one keeps the admin pages locked.
    adminPassword: env["ADMIN_PASSWORD"]
      ? (env["ADMIN_PASSWORD"] as string)
      : readVariable("NODE_ENV", env) === "development"
        ? developmentAdminPassword()
        : null,
    adminSessionSecret: readVariable("ADMIN_SESSION_SECRET", env),
    production: readVariable("NODE_ENV", env) === "production",
    maxBodyBytes: positiveInteger(readVariable("DASHBOARD_MAX_BODY_BYTES", env)) ?? DEFAULT_MAX_BODY_BYTES,
  };
}

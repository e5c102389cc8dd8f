/**
 * Admin sessions: who may open /admin/* and reach /api/system/* through the proxy.
 *
 * - ADMIN_PASSWORD set: a sealed session cookie is required (set by /admin/login). `next dev` without one
 *   generates it (see env.ts), so the admin pages are never open without a password.
 * - ADMIN_PASSWORD unset in production: admin is locked.
 *
 * The cookie is an iron-session seal (encrypted and authenticated) of the session's expiry and a fingerprint of
 * the password, so changing the password ends every session. The sealing key is ADMIN_SESSION_SECRET, or derived
 * from the password.
 */
import "server-only";

import { createHash, timingSafeEqual } from "node:crypto";

import { sealData, unsealData } from "iron-session";

import type { ServerSettings } from "./env";

export const SESSION_COOKIE = "ratp_admin_session";
export const SESSION_TTL_SECONDS = 12 * 60 * 60;
const MAX_COOKIE_LENGTH = 4096;

export type AdminAccessMode = "password" | "locked";

export function adminAccessMode(settings: Pick<ServerSettings, "adminPassword">): AdminAccessMode {
  return settings.adminPassword ? "password" : "locked";
}

interface SessionKeyMaterial {
  password: string;
  secret: string | null;
}

interface AdminSession {
  /** When the session ends (ms since the epoch). */
  expiresAtMs: number;
  /** Which password it was opened with. */
  passwordFingerprint: string;
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** iron-session wants a key of at least 32 characters: a shorter secret (or the password) is hashed to 64. */
function sealingKey({ password, secret }: SessionKeyMaterial): string {
  if (secret && secret.length >= 32) return secret;
  return sha256Hex(secret ? `ratp-admin-session-secret:${secret}` : `ratp-admin-session-key:${password}`);
}

function fingerprint(password: string): string {
  return sha256Hex(`ratp-admin-password:${password}`);
}

/** A session cookie value valid until `nowMs + ttl`. */
export async function signSession(
  material: SessionKeyMaterial,
  nowMs: number = Date.now(),
  ttlSeconds: number = SESSION_TTL_SECONDS,
): Promise<string> {
  const session: AdminSession = {
    expiresAtMs: nowMs + ttlSeconds * 1000,
    passwordFingerprint: fingerprint(material.password),
  };
  // The expiry is checked from the sealed value (below), against the caller's clock.
  return sealData(session, { password: sealingKey(material), ttl: 0 });
}

/** Whether a cookie value is an unexpired session sealed with this key material for this password. */
export async function verifySession(
  token: string | null | undefined,
  material: SessionKeyMaterial,
  nowMs: number = Date.now(),
): Promise<boolean> {
  if (!token || token.length > MAX_COOKIE_LENGTH) return false;
  let session: Partial<AdminSession>;
  try {
    session = await unsealData<Partial<AdminSession>>(token, { password: sealingKey(material), ttl: 0 });
  } catch {
    return false;
  }
  const { expiresAtMs, passwordFingerprint } = session;
  if (typeof expiresAtMs !== "number" || typeof passwordFingerprint !== "string") return false;
  if (expiresAtMs <= nowMs || expiresAtMs > nowMs + SESSION_TTL_SECONDS * 1000 + 60_000) return false;
  return passwordFingerprint === fingerprint(material.password);
}

/** Constant-time password check (compares digests, so lengths do not leak either). */
export async function passwordMatches(given: string, expected: string): Promise<boolean> {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

export type AdminAccessDecision =
  | { allowed: true; mode: AdminAccessMode }
  | { allowed: false; mode: AdminAccessMode; reason: "locked" | "no_session" };

/** Whether a request carrying this session cookie may use the admin pages and the system proxy. */
export async function decideAdminAccess(
  cookieValue: string | null | undefined,
  settings: Pick<ServerSettings, "adminPassword" | "adminSessionSecret">,
  nowMs: number = Date.now(),
): Promise<AdminAccessDecision> {
  const mode = adminAccessMode(settings);
  if (mode === "locked" || !settings.adminPassword) return { allowed: false, mode, reason: "locked" };
  const valid = await verifySession(
    cookieValue,
    { password: settings.adminPassword, secret: settings.adminSessionSecret },
    nowMs,
  );
  return valid ? { allowed: true, mode } : { allowed: false, mode, reason: "no_session" };
}

export const ADMIN_LOCKED_MESSAGE =
  "Admin is locked: ADMIN_PASSWORD is not set on the dashboard server (required in production).";
export const ADMIN_LOGIN_REQUIRED_MESSAGE = "Sign in at /admin/login to use the system API.";

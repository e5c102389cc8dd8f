/**
 * Admin sessions: who may open /admin/* and reach /api/system/* through the proxy.
 *
 * - ADMIN_PASSWORD set: a signed session cookie is required (set by /admin/login).
 * - ADMIN_PASSWORD unset outside production: access is open, and the login page says so.
 * - ADMIN_PASSWORD unset in production: admin is locked.
 *
 * The cookie holds `<expiry ms>.<HMAC-SHA256>`; the MAC covers the expiry and the password, so changing
 * the password ends every session. The HMAC key is ADMIN_SESSION_SECRET, or derived from the password.
 * Web Crypto only, so it runs the same in middleware, route handlers, server actions and tests.
 */
import "server-only";

import type { ServerSettings } from "./env";

export const SESSION_COOKIE = "ratp_admin_session";
export const SESSION_TTL_SECONDS = 12 * 60 * 60;

export type AdminAccessMode = "password" | "open" | "locked";

export function adminAccessMode(settings: Pick<ServerSettings, "adminPassword" | "production">): AdminAccessMode {
  if (settings.adminPassword) return "password";
  return settings.production ? "locked" : "open";
}

const encoder = new TextEncoder();

function toBase64Url(bytes: ArrayBuffer): string {
  return Buffer.from(bytes).toString("base64url");
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return null;
  return new Uint8Array(Buffer.from(text, "base64url"));
}

interface SessionKeyMaterial {
  password: string;
  secret: string | null;
}

async function hmacKey({ password, secret }: SessionKeyMaterial): Promise<CryptoKey> {
  const raw = secret
    ? encoder.encode(secret)
    : await crypto.subtle.digest("SHA-256", encoder.encode(`ratp-admin-session-key:${password}`));
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

function signedPayload(expiresAtMs: number, password: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(`ratp-admin-session.v1.${expiresAtMs}.${password}`);
}

/** A session cookie value valid until `nowMs + ttl`. */
export async function signSession(
  material: SessionKeyMaterial,
  nowMs: number = Date.now(),
  ttlSeconds: number = SESSION_TTL_SECONDS,
): Promise<string> {
  const expiresAtMs = nowMs + ttlSeconds * 1000;
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(material), signedPayload(expiresAtMs, material.password));
  return `${expiresAtMs}.${toBase64Url(mac)}`;
}

/** Whether a cookie value is an unexpired session signed with this key material (constant-time MAC check). */
export async function verifySession(
  token: string | null | undefined,
  material: SessionKeyMaterial,
  nowMs: number = Date.now(),
): Promise<boolean> {
  if (!token || token.length > 200) return false;
  const match = /^(\d{1,15})\.([A-Za-z0-9_-]{20,100})$/.exec(token);
  if (!match) return false;
  const expiresAtMs = Number(match[1]);
  if (!Number.isSafeInteger(expiresAtMs) || expiresAtMs <= nowMs) return false;
  if (expiresAtMs > nowMs + SESSION_TTL_SECONDS * 1000 + 60_000) return false;
  const mac = fromBase64Url(match[2] ?? "");
  if (!mac) return false;
  return crypto.subtle.verify("HMAC", await hmacKey(material), mac, signedPayload(expiresAtMs, material.password));
}

/** Constant-time password check (compares digests, so lengths do not leak either). */
export async function passwordMatches(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(given)),
    crypto.subtle.digest("SHA-256", encoder.encode(expected)),
  ]);
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  let diff = 0;
  for (let i = 0; i < x.length; i += 1) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

export type AdminAccessDecision =
  | { allowed: true; mode: AdminAccessMode }
  | { allowed: false; mode: AdminAccessMode; reason: "locked" | "no_session" };

/** Whether a request carrying this session cookie may use the admin pages and the system proxy. */
export async function decideAdminAccess(
  cookieValue: string | null | undefined,
  settings: Pick<ServerSettings, "adminPassword" | "adminSessionSecret" | "production">,
  nowMs: number = Date.now(),
): Promise<AdminAccessDecision> {
  const mode = adminAccessMode(settings);
  if (mode === "open") return { allowed: true, mode };
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

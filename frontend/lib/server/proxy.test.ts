/**
 * The API proxy: the pure rules, then the real route handler forwarding over loopback HTTP to a stand-in
 * backend that records what it receives.
 */
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

import { NextRequest } from "next/server";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { GET, POST } from "@/app/api/backend/[...path]/route";

import { readServerSettings } from "./env";
import { isSystemProxyPath, resolveProxyTarget, upstreamRequestHeaders } from "./proxy";
import { SESSION_COOKIE, signSession } from "./session";

const KEY = "test-system-key-0123456789";

describe("proxy rules", () => {
  it("classifies system paths, whatever their case", () => {
    expect(resolveProxyTarget(["api", "system", "workers"])).toEqual({
      ok: true,
      path: "/api/system/workers",
      system: true,
    });
    expect(resolveProxyTarget(["api", "SYSTEM", "workers"])).toMatchObject({ ok: true, system: true });
    expect(resolveProxyTarget(["api", "lines", "metro", "1"])).toMatchObject({ ok: true, system: false });
  });

  it("only reaches /api/... and refuses dot segments", () => {
    expect(resolveProxyTarget(["docs"])).toMatchObject({ ok: false, status: 404 });
    expect(resolveProxyTarget(["health"])).toMatchObject({ ok: false });
    expect(resolveProxyTarget(["api", "lines", "..", "system", "workers"])).toMatchObject({ ok: false, status: 400 });
    expect(resolveProxyTarget(["api", "lines", "a/b"])).toMatchObject({ ok: false, status: 400 });
  });

  it("encodes ids with reserved characters", () => {
    expect(resolveProxyTarget(["api", "stations", "IDFM:71264"])).toMatchObject({ path: "/api/stations/IDFM%3A71264" });
  });

  it("lets middleware spot system paths, encoded or not", () => {
    expect(isSystemProxyPath("/api/backend/api/system/workers")).toBe(true);
    expect(isSystemProxyPath("/api/backend/api/%73ystem/workers")).toBe(true);
    expect(isSystemProxyPath("/api/backend/API/System/queue")).toBe(true);
    expect(isSystemProxyPath("/api/backend/api/lines")).toBe(false);
  });

  it("adds the key to system paths only, and never forwards the client's key or cookies", () => {
    const incoming = new Headers({
      accept: "application/json",
      cookie: `${SESSION_COOKIE}=secret-session`,
      "x-api-key": "forged-by-client",
      authorization: "Bearer something",
    });
    const system = upstreamRequestHeaders(incoming, { system: true, systemApiKey: KEY });
    expect(system.get("x-api-key")).toBe(KEY);
    expect(system.get("cookie")).toBeNull();
    expect(system.get("authorization")).toBeNull();
    expect(system.get("accept")).toBe("application/json");

    const pub = upstreamRequestHeaders(incoming, { system: false, systemApiKey: KEY });
    expect(pub.get("x-api-key")).toBeNull();
    expect(pub.get("cookie")).toBeNull();
  });

  it("reads the key from SYSTEM_API_KEY, then SYSTEM_API_TOKEN, and refuses NEXT_PUBLIC_SYSTEM_API_KEY", () => {
    expect(readServerSettings({ NODE_ENV: "test", SYSTEM_API_TOKEN: "b" }).systemApiKey).toBe("b");
    expect(() => readServerSettings({ NODE_ENV: "test", SYSTEM_API_TOKEN: "b", NEXT_PUBLIC_SYSTEM_API_KEY: "c" })).toThrow(
      /NEXT_PUBLIC_SYSTEM_API_KEY is refused.*Rename it to SYSTEM_API_KEY/,
    );
    expect(readServerSettings({ NODE_ENV: "test", SYSTEM_API_KEY: "a", SYSTEM_API_TOKEN: "b" }).systemApiKey).toBe("a");
    expect(readServerSettings({ NODE_ENV: "test" })).toMatchObject({
      systemApiKey: null,
      backendUrl: "http://127.0.0.1:8000",
    });
  });
});

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

describe("proxy route over loopback", () => {
  let server: Server;
  let received: Received[] = [];
  const savedEnv = { ...process.env };

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        received.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
        if (req.url?.startsWith("/api/system/logs/stream")) {
          res.writeHead(200, { "content-type": "text/event-stream", "set-cookie": "upstream=1" });
          res.write('data: {"id": 1}\n\n');
          setTimeout(() => {
            res.write('data: {"id": 2}\n\n');
            res.end();
          }, 50);
          return;
        }
        res.writeHead(200, { "content-type": "application/json", "set-cookie": "upstream=1" });
        res.end(JSON.stringify({ ok: true }));
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
  });

  afterAll(() => {
    server.close();
    process.env = savedEnv;
  });

  beforeEach(() => {
    received = [];
    const { port } = server.address() as AddressInfo;
    process.env = {
      ...savedEnv,
      NODE_ENV: "test",
      BACKEND_URL: `http://127.0.0.1:${port}/`,
      SYSTEM_API_KEY: KEY,
      ADMIN_PASSWORD: "pw",
      ADMIN_SESSION_SECRET: "",
    };
  });

  const signedIn = async () => ({ cookie: `${SESSION_COOKIE}=${await signSession({ password: "pw", secret: null })}` });

  const call = (handler: typeof GET, path: string[], init?: ConstructorParameters<typeof NextRequest>[1]) =>
    handler(new NextRequest(`http://dashboard.test/api/backend/${path.join("/")}?limit=5`, init), {
      params: Promise.resolve({ path }),
    });

  it("forwards public paths without the key", async () => {
    const response = await call(GET, ["api", "lines"], { headers: { "x-api-key": "forged" } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
    expect(received[0]?.url).toBe("/api/lines?limit=5");
    expect(received[0]?.headers["x-api-key"]).toBeUndefined();
    expect(response.headers.get("set-cookie")).toBeNull();
  });

  it("adds the key on system paths and passes the body of a POST", async () => {
    const response = await call(POST, ["api", "system", "workers", "scale"], {
      method: "POST",
      headers: { "content-type": "application/json", cookie: `other=1; ${(await signedIn()).cookie}` },
      body: JSON.stringify({ delta: 1 }),
    });
    expect(response.status).toBe(200);
    expect(received[0]).toMatchObject({ method: "POST", url: "/api/system/workers/scale?limit=5", body: '{"delta":1}' });
    expect(received[0]?.headers["x-api-key"]).toBe(KEY);
    expect(received[0]?.headers.cookie).toBeUndefined();
  });

  it("refuses a body larger than DASHBOARD_MAX_BODY_BYTES with 413, without reading it all", async () => {
    process.env.DASHBOARD_MAX_BODY_BYTES = "1024";
    const response = await call(POST, ["api", "system", "workers", "scale"], {
      method: "POST",
      headers: { "content-type": "application/json", ...(await signedIn()) },
      body: JSON.stringify({ count: 1, pad: "x".repeat(2048) }),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ detail: "body_too_large" });
    expect(received).toHaveLength(0);
  });

  it("refuses system paths without a session when a password is set, and accepts a signed one", async () => {
    const refused = await call(GET, ["api", "system", "workers"]);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ detail: "admin_session_required" });
    expect(received).toHaveLength(0);

    const token = await signSession({ password: "pw", secret: null });
    const allowed = await call(GET, ["api", "system", "workers"], { headers: { cookie: `${SESSION_COOKIE}=${token}` } });
    expect(allowed.status).toBe(200);
    expect(received[0]?.headers["x-api-key"]).toBe(KEY);
  });

  it("locks system paths without a password, in any environment, but keeps public ones open", async () => {
    process.env = { ...process.env, NODE_ENV: "production", ADMIN_PASSWORD: "" };
    const locked = await call(GET, ["api", "system", "queue"]);
    expect(locked.status).toBe(401);
    expect(await locked.json()).toMatchObject({ detail: "admin_locked" });
    expect((await call(GET, ["api", "meta"])).status).toBe(200);
  });

  it("streams server-sent events through", async () => {
    const response = await call(GET, ["api", "system", "logs", "stream"], {
      headers: { accept: "text/event-stream", ...(await signedIn()) },
    });
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    expect(response.headers.get("cache-control")).toContain("no-transform");
    const reader = response.body!.getReader();
    // An SSE comment first, so the browser sees the stream open before the backend's first event.
    expect(new TextDecoder().decode((await reader.read()).value)).toMatch(/^: .*\n\n$/);
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain('data: {"id": 1}');
    let rest = "";
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      rest += new TextDecoder().decode(chunk.value);
    }
    expect(rest).toContain('data: {"id": 2}');
  });

  it("answers 502 in the API's error shape when the backend is down", async () => {
    process.env.BACKEND_URL = "http://127.0.0.1:9";
    const response = await call(GET, ["api", "lines"]);
    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({ detail: "backend_unreachable", message: expect.any(String) });
  });
});

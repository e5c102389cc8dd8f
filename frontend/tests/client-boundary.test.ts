/**
 * Secrets stay on the server: no module that can end up in the browser (a "use client" module and
 * everything it imports) reads the environment, names a secret variable or imports lib/server/.
 * The built bundles are checked separately by `npm run test:bundle`.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SOURCE_DIRS = ["app", "components", "lib"];
const SECRET_NAMES = [
  "SYSTEM_API_KEY",
  "SYSTEM_API_TOKEN",
  "NEXT_PUBLIC_SYSTEM_API_KEY",
  "ADMIN_PASSWORD",
  "ADMIN_SESSION_SECRET",
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) && !/\.(test|d)\.tsx?$/.test(name) ? [path] : [];
  });
}

function directive(source: string): string | null {
  const match = /^(?:\s*(?:\/\/[^\n]*|\/\*[\s\S]*?\*\/))*\s*["'](use client|use server)["']/.exec(source);
  return match?.[1] ?? null;
}

function importSpecifiers(source: string): string[] {
  const specifiers: string[] = [];
  const pattern = /(?:import|export)\s[^"';]*?from\s*["']([^"']+)["']|import\s*\(?\s*["']([^"']+)["']/g;
  for (const match of source.matchAll(pattern)) specifiers.push((match[1] ?? match[2]) as string);
  return specifiers;
}

function resolveLocal(specifier: string, from: string): string | null {
  let base: string;
  if (specifier.startsWith("@/")) base = join(ROOT, specifier.slice(2));
  else if (specifier.startsWith(".")) base = resolve(dirname(from), specifier);
  else return null; // a package
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, join(base, "index.ts"), join(base, "index.tsx")]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return null;
}

/** Every local module reachable from the "use client" entries; "use server" modules are RPC boundaries. */
function clientModuleGraph(): Map<string, string> {
  const files = SOURCE_DIRS.flatMap((dir) => sourceFiles(join(ROOT, dir)));
  const reached = new Map<string, string>();
  const queue = files.filter((file) => directive(readFileSync(file, "utf8")) === "use client");
  while (queue.length) {
    const file = queue.pop() as string;
    if (reached.has(file)) continue;
    const source = readFileSync(file, "utf8");
    reached.set(file, source);
    for (const specifier of importSpecifiers(source)) {
      if (specifier === "server-only") reached.set(`${file} -> server-only`, "server-only");
      const target = resolveLocal(specifier, file);
      if (!target || reached.has(target)) continue;
      if (directive(readFileSync(target, "utf8")) === "use server") continue;
      queue.push(target);
    }
  }
  return reached;
}

describe("client bundle boundary", () => {
  const graph = clientModuleGraph();
  const clientFiles = [...graph.keys()].map((file) => relative(ROOT, file));

  it("finds the client modules (sanity check of the walker)", () => {
    expect(clientFiles).toContain("components/admin/OrchestratorConsole.tsx");
    expect(clientFiles).toContain("lib/api/client.ts");
    expect(graph.size).toBeGreaterThan(20);
  });

  it("never pulls lib/server/ or server-only into a client module", () => {
    const offenders = clientFiles.filter((file) => file.startsWith("lib/server/") || file.includes("server-only"));
    expect(offenders).toEqual([]);
  });

  it("never reads the environment or names a secret in a client module", () => {
    const offenders = [...graph.entries()]
      .filter(([, source]) => source.includes("process.env") || SECRET_NAMES.some((name) => source.includes(name)))
      .map(([file]) => relative(ROOT, file));
    expect(offenders).toEqual([]);
  });

  it("marks every lib/server module server-only, so a client import fails the build", () => {
    const serverModules = sourceFiles(join(ROOT, "lib/server"));
    expect(serverModules.length).toBeGreaterThan(0);
    for (const file of serverModules) {
      expect(readFileSync(file, "utf8"), relative(ROOT, file)).toMatch(/^import "server-only";$/m);
    }
  });
});

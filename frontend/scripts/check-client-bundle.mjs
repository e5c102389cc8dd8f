#!/usr/bin/env node
/**
 * Proves the system API key never reaches the browser: builds the dashboard with known dummy secrets in
 * every variable the server reads (including NEXT_PUBLIC_SYSTEM_API_KEY, which Next.js would inline if any
 * code referenced it literally), then searches every file of the build for them.
 *
 *   - .next/static (everything the browser can download) must not contain any of them;
 *   - nothing else in the build may contain them either: settings are read at run time, never baked in.
 *
 * The build goes to its own folder (.next-bundle-check) so a running `next dev` is not disturbed.
 * `--inspect <distDir>` checks an existing build instead (built with the same dummy values).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));

export const DUMMY_SECRETS = {
  SYSTEM_API_KEY: "bundle-check-system-api-key-7f3a9c1e5b",
  SYSTEM_API_TOKEN: "bundle-check-system-api-token-2d8e4f6a0c",
  NEXT_PUBLIC_SYSTEM_API_KEY: "bundle-check-next-public-key-9b1c3e5f7a",
  ADMIN_PASSWORD: "bundle-check-admin-password-4a6c8e0b2d",
  ADMIN_SESSION_SECRET: "bundle-check-session-secret-1e3g5i7k9m",
};

/** The forms a value could take in a bundle: plain, base64 and URI-encoded. */
function needles(value) {
  return [value, Buffer.from(value).toString("base64"), encodeURIComponent(value)];
}

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else yield path;
  }
}

function scan(dir) {
  const hits = [];
  let files = 0;
  for (const file of walk(dir)) {
    files += 1;
    const content = readFileSync(file);
    for (const [name, value] of Object.entries(DUMMY_SECRETS)) {
      if (needles(value).some((needle) => content.includes(needle))) hits.push(`${relative(root, file)}: ${name}`);
    }
  }
  return { files, hits };
}

function build(distDir) {
  rmSync(join(root, distDir), { recursive: true, force: true });
  console.log(`building into ${distDir} with dummy secrets…`);
  const result = spawnSync("npx", ["--no-install", "next", "build"], {
    cwd: root,
    stdio: "inherit",
    // Standalone, like the Docker image: its server bundle is scanned too.
    env: { ...process.env, ...DUMMY_SECRETS, NEXT_DIST_DIR: distDir, NEXT_OUTPUT: "standalone", NEXT_TELEMETRY_DISABLED: "1" },
  });
  if (result.status !== 0) {
    console.error("build failed");
    process.exit(result.status ?? 1);
  }
}

const inspectIndex = process.argv.indexOf("--inspect");
const distDir = inspectIndex > 0 ? process.argv[inspectIndex + 1] : ".next-bundle-check";
if (inspectIndex < 0) build(distDir);

const staticDir = join(root, distDir, "static");
if (!existsSync(staticDir)) {
  console.error(`no ${relative(root, staticDir)}: nothing to inspect`);
  process.exit(1);
}

const client = scan(staticDir);
// Guard against a vacuous pass: the client bundles must hold the dashboard's own code (the demo banner's test id:
// its words live in the message catalogues, which reach the browser with the page, not in the bundles).
const marker = "demo-banner";
const markerFound = [...walk(staticDir)].some((file) => readFileSync(file).includes(marker));
const whole = scan(join(root, distDir));

console.log(`scanned ${client.files} client files in ${relative(root, staticDir)} and ${whole.files} files in ${distDir}`);
let failed = false;
if (!markerFound) {
  console.error(`FAIL: the client bundles do not contain the marker text "${marker}"; the scan looked at the wrong files`);
  failed = true;
}
if (client.hits.length) {
  console.error(`FAIL: secrets found in client bundles:\n  ${client.hits.join("\n  ")}`);
  failed = true;
}
if (whole.hits.length) {
  console.error(`FAIL: secrets baked into the build (they must be read at run time):\n  ${whole.hits.join("\n  ")}`);
  failed = true;
}
if (failed) process.exit(1);
console.log("OK: no secret value in the client bundles, nor anywhere in the build");

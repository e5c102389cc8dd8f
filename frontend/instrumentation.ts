/**
 * Runs once when the dashboard server starts: it refuses to start with an unsafe environment (a secret under
 * Next.js's public prefix), with a message saying what to rename, rather than serve with it.
 */
export async function register(): Promise<void> {
  // Which runtime loads this file, not a setting: the check needs Node (env.ts reads files).
  // eslint-disable-next-line no-restricted-syntax
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { assertSafeEnvironment } = await import("./lib/server/env");
  try {
    assertSafeEnvironment();
  } catch (error) {
    console.error(`dashboard not started: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}

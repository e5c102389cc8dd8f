const TONE: Record<string, string> = {
  idle: "ok",
  busy: "info",
  starting: "info",
  draining: "warn",
  stopped: "muted",
  lost: "danger",
  queued: "muted",
  running: "info",
  succeeded: "ok",
  partial: "warn",
  failed: "danger",
  ok: "ok",
  stale: "warn",
  no_data: "muted",
  never: "muted",
  expired: "warn",
  on_time: "ok",
  delayed: "warn",
  cancelled: "danger",
  at_platform: "info",
  unknown: "muted",
};

/** A status word in a coloured pill (the word is always written: colour is a hint, not the message). */
export function StatusPill({ status }: { status: string }) {
  return (
    <span className={`pill pill-${TONE[status] ?? "muted"}`} data-status={status}>
      {status.replaceAll("_", " ")}
    </span>
  );
}

import { useTranslations } from "next-intl";

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

type StatusText = ReturnType<typeof useTranslations<"admin.statuses">>;
type KnownStatus = Parameters<StatusText>[0];

/**
 * A status word in a coloured pill (the word is always written: colour is a hint, not the message), in the
 * reader's language; a status the catalogues do not know yet is shown as the API's code.
 */
export function StatusPill({ status }: { status: string }) {
  const t = useTranslations("admin.statuses");
  return (
    <span className={`pill pill-${TONE[status] ?? "muted"}`} data-status={status}>
      {t.has(status as KnownStatus) ? t(status as KnownStatus) : status.replaceAll("_", " ")}
    </span>
  );
}

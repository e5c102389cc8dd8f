"use client";

import { useTranslations } from "next-intl";
import { useState, type FormEvent } from "react";

import { errorMessage } from "@/lib/api/errors";
import { useScaleWorkers } from "@/lib/api/queries";

/**
 * Add / remove one worker, or set the pool size: POST /api/system/workers/scale. Every control is
 * disabled while a request is in flight; the outcome (message, requested / observed) or the error stays shown.
 */
export function ScaleControls({ activeWorkers }: { activeWorkers: number }) {
  const t = useTranslations("admin.scale");
  const scale = useScaleWorkers();
  const [count, setCount] = useState("");
  const busy = scale.isPending;

  function onSetCount(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const value = Number(count);
    if (!Number.isInteger(value) || value < 0) return;
    scale.mutate({ count: value });
  }

  const result = scale.data;
  return (
    <section className="card" aria-labelledby="scale-title" id="scale">
      <h2 id="scale-title">{t("title")}</h2>
      <div className="scale-controls">
        <button
          type="button"
          className="button"
          disabled={busy || activeWorkers === 0}
          onClick={() => scale.mutate({ delta: -1 })}
          data-testid="remove-worker"
        >
          {t("remove")}
        </button>
        <button
          type="button"
          className="button button-primary"
          disabled={busy}
          onClick={() => scale.mutate({ delta: 1 })}
          data-testid="add-worker"
        >
          {t("add")}
        </button>
        <form className="inline-form" onSubmit={onSetCount}>
          <label htmlFor="worker-count">{t("setCount")}</label>
          <input
            id="worker-count"
            type="number"
            inputMode="numeric"
            min={0}
            step={1}
            value={count}
            placeholder={String(activeWorkers)}
            onChange={(event) => setCount(event.target.value)}
            disabled={busy}
          />
          <button type="submit" className="button" disabled={busy || count === ""}>
            {t("apply")}
          </button>
        </form>
      </div>
      <div aria-live="polite" className="scale-outcome" data-testid="scale-outcome">
        {busy ? <p className="muted">{t("scaling")}</p> : null}
        {!busy && result ? (
          <p className="outcome-ok">
            {result.message}{" "}
            <span className="muted small">
              {t("outcome", {
                backend: result.backend,
                previous: String(result.previous ?? "?"),
                requested: String(result.requested),
                observed: result.observed === null || result.observed === undefined ? t("notYet") : String(result.observed),
              })}
            </span>
          </p>
        ) : null}
        {!busy && scale.isError ? (
          <p className="outcome-error" role="alert">
            {t("failed", { error: errorMessage(scale.error) })}
          </p>
        ) : null}
      </div>
    </section>
  );
}

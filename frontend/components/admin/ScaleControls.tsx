"use client";

import { useState, type FormEvent } from "react";

import { errorMessage } from "@/lib/api/errors";
import { useScaleWorkers } from "@/lib/api/queries";

/**
 * Add / remove one worker, or set the pool size: POST /api/system/workers/scale. Every control is
 * disabled while a request is in flight; the outcome (message, requested / observed) or the error stays shown.
 */
export function ScaleControls({ activeWorkers }: { activeWorkers: number }) {
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
      <h2 id="scale-title">Scale workers</h2>
      <div className="scale-controls">
        <button
          type="button"
          className="button"
          disabled={busy || activeWorkers === 0}
          onClick={() => scale.mutate({ delta: -1 })}
          data-testid="remove-worker"
        >
          − Remove worker
        </button>
        <button
          type="button"
          className="button button-primary"
          disabled={busy}
          onClick={() => scale.mutate({ delta: 1 })}
          data-testid="add-worker"
        >
          + Add worker
        </button>
        <form className="inline-form" onSubmit={onSetCount}>
          <label htmlFor="worker-count">Set count</label>
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
            Apply
          </button>
        </form>
      </div>
      <div aria-live="polite" className="scale-outcome" data-testid="scale-outcome">
        {busy ? <p className="muted">Scaling…</p> : null}
        {!busy && result ? (
          <p className="outcome-ok">
            {result.message}{" "}
            <span className="muted small">
              ({result.backend}: {result.previous ?? "?"} → requested {result.requested}, observed{" "}
              {result.observed ?? "not yet"})
            </span>
          </p>
        ) : null}
        {!busy && scale.isError ? (
          <p className="outcome-error" role="alert">
            Scaling failed: {errorMessage(scale.error)}
          </p>
        ) : null}
      </div>
    </section>
  );
}

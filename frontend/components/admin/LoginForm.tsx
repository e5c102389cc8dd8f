"use client";

import { useActionState } from "react";

import { login, type LoginState } from "@/app/admin/actions";

export function LoginForm({ next }: { next: string }) {
  const [state, action, pending] = useActionState<LoginState, FormData>(login, { error: null });
  return (
    <form action={action} className="card login-form">
      <input type="hidden" name="next" value={next} />
      <label htmlFor="admin-password">Admin password</label>
      <input
        id="admin-password"
        name="password"
        type="password"
        autoComplete="current-password"
        required
        autoFocus
        aria-describedby={state.error ? "login-error" : undefined}
      />
      <button type="submit" className="button button-primary" disabled={pending}>
        {pending ? "Signing in…" : "Sign in"}
      </button>
      {state.error ? (
        <p id="login-error" className="form-error" role="alert">
          {state.error}
        </p>
      ) : null}
    </form>
  );
}

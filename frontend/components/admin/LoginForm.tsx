"use client";

import { useTranslations } from "next-intl";
import { useActionState } from "react";

import { login, type LoginState } from "@/app/admin/actions";

export function LoginForm({ next }: { next: string }) {
  const t = useTranslations("operators");
  const [state, action, pending] = useActionState<LoginState, FormData>(login, { error: null });
  return (
    <form action={action} className="card login-form">
      <input type="hidden" name="next" value={next} />
      <label htmlFor="admin-password">{t("password")}</label>
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
        {pending ? t("signingIn") : t("signIn")}
      </button>
      {state.error ? (
        <p id="login-error" className="form-error" role="alert">
          {state.error}
        </p>
      ) : null}
    </form>
  );
}

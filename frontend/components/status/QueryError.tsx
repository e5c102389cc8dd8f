import Link from "next/link";

import { ApiError, errorMessage } from "@/lib/api/errors";
import { LOGIN_PATH } from "@/lib/admin-paths";

/** A failed first load, with the API's own message; a sign-in link when the admin session is missing. */
export function QueryError({ error, what }: { error: unknown; what: string }) {
  const unauthorised = error instanceof ApiError && error.isUnauthorised;
  return (
    <div className="banner banner-danger" role="alert">
      <strong>Could not load {what}.</strong> <span>{errorMessage(error)}</span>
      {unauthorised ? (
        <p>
          <Link href={LOGIN_PATH}>Sign in</Link> to continue.
        </p>
      ) : null}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status">
      Loading {what}…
    </p>
  );
}

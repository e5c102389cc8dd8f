"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";
import { useTranslations } from "next-intl";

import { logout } from "@/app/admin/actions";

const LINKS = [
  { href: "/admin", label: "overview" },
  { href: "/admin/orchestrator", label: "orchestrator" },
  { href: "/admin/logs", label: "logs" },
] as const;

export function AdminNav({ signedIn }: { signedIn: boolean }) {
  const t = useTranslations("operators");
  const pathname = usePathname();
  return (
    <nav aria-label={t("nav")} className="admin-nav">
      <ul>
        {LINKS.map((link) => (
          <li key={link.href}>
            <Link href={link.href} aria-current={pathname === link.href ? "page" : undefined}>
              {t(link.label)}
            </Link>
          </li>
        ))}
      </ul>
      {signedIn ? (
        <form action={logout}>
          <button type="submit" className="button button-quiet">
            {t("signOut")}
          </button>
        </form>
      ) : null}
    </nav>
  );
}

"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";

import { logout } from "@/app/admin/actions";

const LINKS = [
  { href: "/admin", label: "Overview" },
  { href: "/admin/orchestrator", label: "Orchestrator" },
  { href: "/admin/logs", label: "Logs" },
];

export function AdminNav({ signedIn }: { signedIn: boolean }) {
  const pathname = usePathname();
  return (
    <nav aria-label="Operator pages" className="admin-nav">
      <ul>
        {LINKS.map((link) => (
          <li key={link.href}>
            <Link href={link.href} aria-current={pathname === link.href ? "page" : undefined}>
              {link.label}
            </Link>
          </li>
        ))}
      </ul>
      {signedIn ? (
        <form action={logout}>
          <button type="submit" className="button button-quiet">
            Sign out
          </button>
        </form>
      ) : null}
    </nav>
  );
}

import Link from "next/link";
import { getTranslations } from "next-intl/server";

export default async function NotFound() {
  const t = await getTranslations("layout");
  return (
    <div className="stack narrow">
      <h1>{t("notFoundTitle")}</h1>
      <p>
        <Link href="/">{t("backToLines")}</Link>
      </p>
    </div>
  );
}

import type { CSSProperties } from "react";

import type { LineRef } from "@/lib/api/types";
import { badgeColours } from "@/lib/format/contrast";

const NETWORK_PREFIX: Record<string, string> = { metro: "M", rer: "RER", tram: "", bus: "Bus" };
const NETWORK_NAME: Record<string, string> = { metro: "Metro", rer: "RER", tram: "Tram", bus: "Bus" };

type BadgeLine = Pick<LineRef, "network" | "code" | "colour" | "text_colour"> & { name?: string };

/** A line's code in its official colour; the text colour is corrected when it would not be readable. */
export function LineBadge({ line, size = "md" }: { line: BadgeLine; size?: "sm" | "md" | "lg" }) {
  const colours = badgeColours(line.colour, line.text_colour);
  const style = {
    "--badge-bg": colours.background,
    "--badge-fg": colours.text,
    "--badge-ring-light": colours.ringLight,
    "--badge-ring-dark": colours.ringDark,
  } as CSSProperties;
  const prefix = NETWORK_PREFIX[line.network] ?? "";
  return (
    <span
      className={`line-badge line-badge-${size} line-badge-${line.network}`}
      style={style}
      data-testid="line-badge"
      data-colour={colours.background}
      aria-label={`${NETWORK_NAME[line.network] ?? line.network} ${line.code}`}
      role="img"
    >
      {prefix && line.network !== "metro" ? <span className="line-badge-prefix">{prefix}</span> : null}
      {line.code}
    </span>
  );
}

export function networkName(network: string): string {
  return NETWORK_NAME[network] ?? network;
}

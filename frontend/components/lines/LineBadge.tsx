import { useTranslations } from "next-intl";
import type { CSSProperties } from "react";

import type { LineRef } from "@/lib/api/types";
import { badgeColours } from "@/lib/format/contrast";

const NETWORK_PREFIX: Record<string, string> = { metro: "M", rer: "RER", tram: "", bus: "Bus" };
const NETWORKS = ["metro", "rer", "tram", "bus"] as const;
type Network = (typeof NETWORKS)[number];

function isNetwork(network: string): network is Network {
  return (NETWORKS as readonly string[]).includes(network);
}

type BadgeLine = Pick<LineRef, "network" | "code" | "colour" | "text_colour"> & { name?: string };

/** A line's code in its official colour; the text colour is corrected when it would not be readable. */
export function LineBadge({ line, size = "md" }: { line: BadgeLine; size?: "sm" | "md" | "lg" }) {
  const name = useNetworkName();
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
      aria-label={`${name(line.network)} ${line.code}`}
      role="img"
    >
      {prefix && line.network !== "metro" ? <span className="line-badge-prefix">{prefix}</span> : null}
      {line.code}
    </span>
  );
}

/** The network's name in the rider's language ("Métro"), or the API's own code for a network not known here. */
export function useNetworkName(): (network: string) => string {
  const t = useTranslations("network.names");
  return (network) => (isNetwork(network) ? t(network) : network);
}

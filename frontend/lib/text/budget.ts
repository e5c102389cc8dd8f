/**
 * The PRIM budget's sentences (orchestrator panel, line page note), in English, grouped here so that the i18n
 * catalogue can take them over whole. Functions take already formatted values (durations, clock times, counts).
 */
export const budgetText = {
  panel: {
    title: "PRIM budget",
    notBudgeted: "PRIM is not used (no PRIM_API_KEY, or prim not in SOURCE_ORDER): no budget to keep.",
    keyRejected: (message: string, since: string) =>
      `${message} (since ${since}). PRIM is not asked until the key changes or you retry; other sources go on.`,
    retry: "Retry the key now",
    retrying: "Retrying…",
    retried: (cleared: boolean) =>
      cleared ? "The fleet asks PRIM again; a rejected key shows here again within seconds." : "No rejection was recorded.",
    retryFailed: (error: string) => `Retry failed: ${error}`,
    apiColumns: {
      api: "API",
      limits: "Key allows",
      used: "Used today",
      remaining: "Remaining",
      refused: "Refused by PRIM",
      heldBack: "Held back",
      reset: "Resets at",
    },
    apiName: {
      departures: "Next departures",
      traffic: "Traffic messages",
      navitia: "Navitia (stops)",
    } as Record<string, string>,
    limits: (perDay: number, perSecond: number | null, fromPrim: boolean) =>
      `${perDay.toLocaleString("en")}/day${perSecond ? `, ${perSecond}/s` : ""}${fromPrim ? "" : " (configured, until PRIM says)"}`,
    pace: (perMinute: string) => `Spending ${perMinute} requests a minute until the reset`,
    periodic: (every: string, wanted: string, covered: boolean) =>
      covered
        ? `Rail lines refreshed every ${every}.`
        : `Rail lines refreshed every ${every} (wanted ${wanted}): the allowance cannot do better today.`,
    demand: (every: string, share: string, lines: number) =>
      `${lines} line${lines === 1 ? "" : "s"} being viewed, refreshed every ${every} (${share} of the budget kept for them).`,
    noDemand: (share: string) => `No line being viewed; ${share} of the budget is kept for the lines riders open.`,
    linesSummary: (count: number) => `Planned interval per line (${count} lines)`,
    lineColumns: {
      line: "Line",
      cost: "Requests per fetch",
      interval: "Every",
      perDay: "Requests a day",
      viewed: "Viewed",
    },
    never: "not planned",
    yes: "yes",
  },
  line: {
    refreshedEvery: (every: string) =>
      `With today's PRIM allowance this line is refreshed about every ${every}: its boards may be that old.`,
  },
} as const;

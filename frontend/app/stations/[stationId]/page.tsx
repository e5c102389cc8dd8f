import type { Metadata } from "next";

import { StationBoardView } from "@/components/departures/StationBoardView";
import { decodeParam } from "@/lib/params";

interface StationPageProps {
  params: Promise<{ stationId: string }>;
}

export const metadata: Metadata = { title: "Station board" };

export default async function StationPage({ params }: StationPageProps) {
  const { stationId } = await params;
  const id = decodeParam(stationId);
  return <StationBoardView key={id} stationId={id} />;
}

import type { Metadata } from "next";

import { LineView } from "@/components/lines/LineView";
import { decodeParam } from "@/lib/params";

interface LinePageProps {
  params: Promise<{ network: string; code: string }>;
}

export async function generateMetadata({ params }: LinePageProps): Promise<Metadata> {
  const { network, code } = await params;
  return { title: `${decodeParam(network)} ${decodeParam(code)}` };
}

export default async function LinePage({ params }: LinePageProps) {
  const { network, code } = await params;
  const decodedNetwork = decodeParam(network);
  const decodedCode = decodeParam(code);
  return <LineView key={`${decodedNetwork}:${decodedCode}`} network={decodedNetwork} code={decodedCode} />;
}

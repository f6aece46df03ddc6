/** The demo on a terminal: a live status line while it runs, a summary table at the end. */
import Table from "cli-table3";
import { formatUnits } from "ethers";
import type { FastlaneSummary } from "./fastlane-scenario.ts";
import type { DemoProgress, DemoSummary } from "./run-demo.ts";

const toll = (v: bigint) =>
  `${Number(formatUnits(v, 18)).toLocaleString("en-US", { maximumFractionDigits: 6 })} TOLL`;
const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
const short = (h?: string) => (h ? `${h.slice(0, 8)}…${h.slice(-4)}` : "-");

/** One status line (no newline) for the live display. */
export function statusLine(p: DemoProgress): string {
  const parts = [p.phase];
  if (p.dealId) parts.push(`deal ${p.dealId} ${p.dealStatus ?? ""}`.trim());
  if (p.channelId) parts.push(`channel ${short(p.channelId)}`);
  if (p.session) parts.push(`session ${p.session}`);
  if (p.proofsSent > 0) {
    parts.push(`proofs ${p.proofsSent} sent / ${p.proofsAcked} acked`);
    parts.push(`${mb(p.bytesCrawled)} crawled`);
    parts.push(`owed ${toll(p.owed)} · paid ${toll(p.paid)}`);
  }
  return parts.join(" │ ");
}

/** Rewrites one line on a TTY. */
export function liveLine(stream: NodeJS.WriteStream): (p: DemoProgress) => void {
  let last = "";
  return (p) => {
    const line = statusLine(p);
    if (line === last) return;
    last = line;
    const width = stream.columns ?? 120;
    stream.write(`\r\x1b[2K${line.length > width - 1 ? `${line.slice(0, width - 2)}…` : line}`);
  };
}

/** The summary as a table. */
export function summaryTable(s: DemoSummary): string {
  const t = new Table();
  t.push(
    ["proofs sent / acknowledged", `${s.proofsSent} / ${s.proofsAcked}`],
    ["proofs per second", String(s.proofsPerSec)],
    ["bytes crawled (pages)", `${s.bytesCrawled.toLocaleString("en-US")} (${s.pagesCrawled})`],
    ["paid off chain (acknowledged)", toll(s.paidOffChain)],
    ["paid on chain (settled)", toll(s.paidOnChain)],
    ...s.transactions.map((tx) => [
      `gas: ${tx.step}`,
      `${tx.gasUsed.toLocaleString("en-US")}  ${short(tx.hash)}`,
    ]),
    ...(["provider", "requester"] as const).map((r) => [
      `${r} ${short(s.balances[r].address)}`,
      `${toll(s.balances[r].before)} → ${toll(s.balances[r].after)}`,
    ]),
    ["deal", s.deal ? `${s.deal.id} ${s.deal.status}` : "-"],
    ["sessions", s.sessions.map((x) => `${x.mode}: ${x.end}`).join(", ") || "-"],
    ["took", `${(s.durationMs / 1000).toFixed(1)} s${s.interrupted ? " (interrupted)" : ""}`],
  );
  const ok = s.paidOffChain === s.paidOnChain && s.proofsSent === s.proofsAcked;
  return `${t.toString()}\n${ok ? "every acknowledged payment arrived on chain, to the unit" : "MISMATCH between off-chain and on-chain payments"}`;
}

/** The summary as one JSON object (amounts as decimal strings). */
export function summaryJson(s: DemoSummary): string {
  return JSON.stringify(s, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
}

/** The fast-lane summary as a table: the call's throughput with and without its lane, and each hop's pay. */
export function fastlaneTable(s: FastlaneSummary): string {
  const t = new Table();
  const flows = (f: FastlaneSummary["bestEffort"]) =>
    f
      ? `call ${f.callMbps.toFixed(2)} Mbit/s, background ${f.backgroundMbps.toFixed(2)} Mbit/s`
      : "-";
  t.push(
    ["links (HTB) / call rate and lane", `${s.linkMbps} / ${s.guaranteedMbps} Mbit/s`],
    ["best effort", flows(s.bestEffort)],
    ["with the paid lane", flows(s.withLane)],
    ...s.hops.map((h) => [
      `${h.id} paid (${toll(h.pricePerSecond)}/s)`,
      `${toll(h.received)} in ${h.proofs} signed proofs, ${toll(h.settled)} settled on chain`,
    ]),
    ["paid in all", toll(s.paidTotal)],
    ["lanes left after teardown", String(s.lanesLeft)],
    ["took", `${(s.durationMs / 1000).toFixed(1)} s${s.interrupted ? " (interrupted)" : ""}`],
  );
  return `${t.toString()}\n${s.lanesLeft === 0 ? "every hop removed its lane; the namespaces are gone" : "a hop kept its lane"}`;
}

/** The fast-lane summary as one JSON object (amounts as decimal strings). */
export function fastlaneJson(s: FastlaneSummary): string {
  return JSON.stringify(s, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
}

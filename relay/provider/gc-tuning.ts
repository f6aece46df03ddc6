/**
 * V8 tuning for a process that runs a provider node.
 *
 * V8 "pretenures" an allocation site (allocates its objects straight in the old generation) once
 * most of its objects survive a scavenge. A burst of pipelined proofs does exactly that to the
 * proof path's sites: thousands of frames wait for verification at every scavenge. The decision
 * outlives the burst, so at a steady load every decoded frame, proof and session state then goes
 * to the old generation and dies there: measured at 10,000 proofs/s after a burst, the old
 * generation grew by about 5 MB/s and a mark-compact came every few seconds (pauses of 7–15 ms,
 * each holding up a few hundred ACKs); without pretenuring it grows by about 1 MB/s. Nothing on
 * the proof path is long-lived, so the provider gives the feature up.
 */
import { setFlagsFromString } from "node:v8";

let applied = false;

/** Turns V8's allocation-site pretenuring off for this process (once; later calls do nothing). */
export function disablePretenuring(): void {
  if (applied) return;
  applied = true;
  setFlagsFromString("--no-allocation-site-pretenuring");
}

/**
 * Snapshot bytes: a core image in MessagePack (msgpackr, with records for the many objects of
 * one shape; typed arrays, maps and bigints of any size go through as they are), cut into chunks that fit level comfortably, with a manifest that
 * carries the SHA-256 of the whole. A snapshot whose chunks are missing, cut short or changed
 * fails to decode and the journal falls back to an older one.
 */

import { createHash } from "node:crypto";
import { Packr } from "msgpackr";
import { reject } from "../../../channels/index.ts";
import type { MarketCoreImage } from "../core/market-core.ts";
import type { MarketResult } from "../types.ts";

/** Bytes per chunk. */
export const SNAPSHOT_CHUNK_BYTES = 1 << 20;
const FORMAT = 1;

// Every int64 on the wire is a bigint of the image (numbers beyond 32 bits go as doubles), and
// MessagePack maps are the image's Maps (its plain objects go as records).
const packr = new Packr({
  useRecords: true,
  moreTypes: true,
  useBigIntExtension: true,
  int64AsType: "bigint",
  mapsAsObjects: false,
});

/** What a snapshot's manifest records. */
export interface SnapshotManifest {
  readonly format: number;
  /** Sequence number of the last journal entry the image includes. */
  readonly seq: number;
  readonly chunks: number;
  readonly bytes: number;
  readonly sha256: string;
}

/** A snapshot ready to write: its manifest and its chunks. */
export interface EncodedSnapshot {
  readonly manifest: SnapshotManifest;
  readonly chunks: readonly Uint8Array[];
}

/** Serialises a core image taken after entry `seq`. */
export function encodeSnapshot(seq: number, image: MarketCoreImage): EncodedSnapshot {
  const bytes = packr.pack(image);
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += SNAPSHOT_CHUNK_BYTES)
    chunks.push(bytes.subarray(at, at + SNAPSHOT_CHUNK_BYTES));
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  return {
    manifest: { format: FORMAT, seq, chunks: chunks.length, bytes: bytes.length, sha256 },
    chunks,
  };
}

/** Reads a manifest's text; a rejection when it is not one. */
export function parseManifest(text: string): MarketResult<SnapshotManifest> {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (err) {
    return reject("JOURNAL_CORRUPT", `snapshot manifest is not JSON: ${String(err)}`);
  }
  const v = m as Partial<SnapshotManifest> | null;
  const nat = (x: unknown) => typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
  if (
    !v ||
    v.format !== FORMAT ||
    !nat(v.seq) ||
    !nat(v.chunks) ||
    !nat(v.bytes) ||
    typeof v.sha256 !== "string"
  )
    return reject("JOURNAL_CORRUPT", "snapshot manifest has the wrong shape");
  return { ok: true, value: v as SnapshotManifest };
}

/** Joins and checks a snapshot's chunks; a rejection when any is missing or altered. */
export function decodeSnapshot(
  manifest: SnapshotManifest,
  chunks: readonly (Uint8Array | undefined)[],
): MarketResult<MarketCoreImage> {
  if (chunks.length !== manifest.chunks || chunks.some((c) => c === undefined))
    return reject("JOURNAL_CORRUPT", "snapshot chunks are missing");
  const bytes = Buffer.concat(chunks as Uint8Array[]);
  if (bytes.length !== manifest.bytes)
    return reject("JOURNAL_CORRUPT", "snapshot has the wrong length");
  if (createHash("sha256").update(bytes).digest("hex") !== manifest.sha256)
    return reject("JOURNAL_CORRUPT", "snapshot checksum does not match");
  try {
    return { ok: true, value: packr.unpack(bytes) as MarketCoreImage };
  } catch (err) {
    return reject("JOURNAL_CORRUPT", `snapshot does not decode: ${String(err)}`);
  }
}

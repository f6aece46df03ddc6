/** Validation of the requester's `wireguard` tunnel parameters (pure). */
import type { Result } from "../../../channels/index.ts";

/** The parameters a requester sends in OPEN for a `wireguard` tunnel. */
export interface WireGuardParams {
  /** The requester's WireGuard public key (base64, 32 bytes). */
  readonly publicKey: string;
}

/** A validation outcome of tunnel parameters: the channels layer's `Result`. */
export type ParamsResult<T> = Result<T, "PARAMS_INVALID">;

/** True when `key` is a canonical base64 encoding of 32 bytes (what `wg` prints). */
export function isWireGuardKey(key: string): boolean {
  return /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/.test(key);
}

/** Validates `wireguard` parameters: `{ publicKey }`. */
export function parseWireGuardParams(
  params: Readonly<Record<string, string | number>>,
): ParamsResult<WireGuardParams> {
  const key = params.publicKey;
  if (typeof key !== "string" || !isWireGuardKey(key)) {
    return {
      ok: false,
      code: "PARAMS_INVALID",
      reason: "publicKey must be a base64 WireGuard key",
    };
  }
  return { ok: true, value: { publicKey: key } };
}

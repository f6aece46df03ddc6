/** Picks the secp256k1 backend: the native binding when it loads, else pure JS. */
import { ChannelError } from "../errors.ts";
import type { BackendName, Secp256k1Backend } from "./backend.ts";
import { libsecpBackend } from "./backend-libsecp.ts";
import { nobleBackend } from "./backend-noble.ts";

const loaded = new Map<BackendName, Secp256k1Backend>();

/**
 * Returns a backend by name, or with "auto" (the default) the fastest one that loads here:
 * native libsecp256k1, falling back to @noble/curves. The environment variable
 * `TOLLWAY_SECP256K1` (native | noble | elliptic) overrides "auto".
 * @throws ChannelError BACKEND_UNAVAILABLE when a backend asked for by name cannot load.
 */
export function loadBackend(name: BackendName | "auto" = "auto"): Secp256k1Backend {
  const wanted = name === "auto" ? envBackend() : name;
  if (wanted === undefined) {
    try {
      return get("native");
    } catch {
      // Native addon missing for this platform/ABI: the pure-JS fallback is the documented path.
      return get("noble");
    }
  }
  try {
    return get(wanted);
  } catch (err) {
    throw new ChannelError(
      "BACKEND_UNAVAILABLE",
      `secp256k1 backend ${wanted} cannot load`,
      { backend: wanted },
      err,
    );
  }
}

/** Names of the backends that load on this machine. */
export function availableBackends(): BackendName[] {
  const out: BackendName[] = [];
  for (const n of ["native", "noble", "elliptic"] as const) {
    try {
      get(n);
      out.push(n);
    } catch {
      // Not loadable here; simply not listed.
    }
  }
  return out;
}

function envBackend(): BackendName | undefined {
  const v = process.env.TOLLWAY_SECP256K1;
  return v === "native" || v === "noble" || v === "elliptic" ? v : undefined;
}

function get(name: BackendName): Secp256k1Backend {
  let b = loaded.get(name);
  if (b === undefined) {
    b = name === "noble" ? nobleBackend() : libsecpBackend(name);
    loaded.set(name, b);
  }
  return b;
}

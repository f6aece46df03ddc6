/**
 * An authenticated WebSocket connection to a provider, frames in and out: the requester's half
 * of the handshake (check HELLO, sign both nonces, check AUTH_OK) and nothing else. The SDK's
 * client builds sessions on it; benchmarks use it to send raw frames.
 */
import { randomBytes } from "node:crypto";
import { WebSocket } from "ws";
import type { Address, ChannelDomain, ProofSigner } from "../../channels/index.ts";
import { ProofVerifier } from "../../channels/index.ts";
import { RelayError } from "../errors.ts";
import { decodeFrame, encodeFrame } from "../wire/codec.ts";
import { type Frame, PROTOCOL_VERSION } from "../wire/frames.ts";
import { handshakeDigest } from "../wire/handshake.ts";

/** Options of `openWireConnection`. */
export interface WireConnectionOptions {
  readonly url: string;
  readonly signer: ProofSigner;
  /** When given, HELLO must name this chain and contract. */
  readonly domain?: ChannelDomain;
  /** When given, HELLO must name this provider. */
  readonly provider?: Address;
  /** Handshake deadline, ms (default 10,000). */
  readonly timeoutMs?: number;
}

/** An open, authenticated connection. */
export interface WireConnection {
  readonly provider: Address;
  readonly domain: ChannelDomain;
  readonly ws: WebSocket;
  send(frame: Frame): void;
  /** Sends bytes already encoded (benchmarks pre-encode). */
  sendRaw(data: Uint8Array): void;
  /** Every valid frame after AUTH_OK; invalid ones are dropped (counted in `invalidFrames`). */
  onFrame: ((frame: Frame) => void) | null;
  onClose: ((code: number, reason: string) => void) | null;
  readonly invalidFrames: number;
  close(code?: number, reason?: string): void;
}

const verifier = new ProofVerifier();

/**
 * Connects and authenticates.
 * @throws RelayError CONNECTION_LOST (cannot connect, or closed during the handshake),
 *   VERSION_UNSUPPORTED, DOMAIN_MISMATCH (another chain or contract), AUTH_FAILED (the provider
 *   refused us, or its AUTH_OK is not signed by the address it announced), TIMEOUT.
 */
export function openWireConnection(opts: WireConnectionOptions): Promise<WireConnection> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(opts.url, { perMessageDeflate: false, maxPayload: 64 * 1024 });
    const myNonce = randomBytes(32);
    let hello: (Frame & { type: "HELLO" }) | null = null;
    let done = false;
    let invalid = 0;
    const fail = (err: RelayError) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ws.terminate();
      reject(err);
    };
    const timer = setTimeout(
      () => fail(new RelayError("TIMEOUT", "handshake timed out")),
      opts.timeoutMs ?? 10_000,
    );
    const conn: WireConnection = {
      get provider() {
        return hello!.provider;
      },
      get domain() {
        return { chainId: hello!.chainId, verifyingContract: hello!.contract };
      },
      ws,
      send: (frame) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(encodeFrame(frame));
      },
      sendRaw: (data) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(data);
      },
      onFrame: null,
      onClose: null,
      get invalidFrames() {
        return invalid;
      },
      close: (code = 1000, reason = "") => ws.close(code, reason),
    };
    ws.on("error", (err) =>
      fail(new RelayError("CONNECTION_LOST", "cannot reach the provider", {}, { cause: err })),
    );
    ws.on("close", (code, reason) => {
      if (!done) {
        fail(
          new RelayError("CONNECTION_LOST", `closed during the handshake (${code})`, {
            code,
            reason: reason.toString(),
          }),
        );
      }
      conn.onClose?.(code, reason.toString());
    });
    ws.on("message", (data: Buffer, isBinary) => {
      const decoded = isBinary ? decodeFrame(data) : null;
      if (decoded === null || !decoded.ok) {
        invalid++;
        return;
      }
      const frame = decoded.value;
      if (done) {
        conn.onFrame?.(frame);
        return;
      }
      if (hello === null) {
        if (frame.type !== "HELLO") return fail(new RelayError("FRAME_UNEXPECTED", "no HELLO"));
        if (frame.version !== PROTOCOL_VERSION) {
          return fail(new RelayError("VERSION_UNSUPPORTED", `provider speaks v${frame.version}`));
        }
        if (
          opts.domain !== undefined &&
          (opts.domain.chainId !== frame.chainId ||
            opts.domain.verifyingContract.toLowerCase() !== frame.contract)
        ) {
          return fail(
            new RelayError("DOMAIN_MISMATCH", "provider is on another chain or contract"),
          );
        }
        if (opts.provider !== undefined && opts.provider.toLowerCase() !== frame.provider) {
          return fail(new RelayError("AUTH_FAILED", `expected provider ${opts.provider}`));
        }
        hello = frame;
        const d = handshakeDigest(
          "requester",
          { chainId: frame.chainId, verifyingContract: frame.contract },
          frame.provider,
          opts.signer.address,
          frame.nonce,
          myNonce,
        );
        conn.send({
          type: "AUTH",
          requester: opts.signer.address,
          nonce: myNonce,
          signature: opts.signer.signDigest(d),
        });
        return;
      }
      if (frame.type === "ERROR") {
        return fail(new RelayError(frame.code, `provider refused: ${frame.message}`));
      }
      if (frame.type !== "AUTH_OK") return fail(new RelayError("FRAME_UNEXPECTED", frame.type));
      const back = handshakeDigest(
        "provider",
        { chainId: hello.chainId, verifyingContract: hello.contract },
        hello.provider,
        opts.signer.address,
        hello.nonce,
        myNonce,
      );
      const check = verifier.checkDigest(back, frame.signature, hello.provider);
      if (!check.ok)
        return fail(new RelayError("AUTH_FAILED", "AUTH_OK not signed by the provider"));
      done = true;
      clearTimeout(timer);
      resolve(conn);
    });
  });
}

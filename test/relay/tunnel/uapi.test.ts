import { describe, expect, it } from "vitest";
import { parseUapiGet } from "../../../relay/tunnel/wireguard/uapi.ts";

const KEY_HEX = "ab".repeat(32);
const KEY_B64 = Buffer.from(KEY_HEX, "hex").toString("base64");

describe("UAPI answers", () => {
  it("reads each peer's counters, allowed IPs and handshake, and drops the private key", () => {
    const text = [
      `private_key=${"11".repeat(32)}`,
      "listen_port=51820",
      `public_key=${KEY_HEX}`,
      "endpoint=10.0.0.2:40000",
      "last_handshake_time_sec=1700000000",
      "last_handshake_time_nsec=5",
      "tx_bytes=1234",
      "rx_bytes=5678",
      "allowed_ip=10.77.0.2/32",
      "errno=0",
      "",
      "",
    ].join("\n");
    const peers = parseUapiGet(text);
    expect(peers).toEqual([
      {
        publicKey: KEY_B64,
        endpoint: "10.0.0.2:40000",
        allowedIps: ["10.77.0.2/32"],
        latestHandshake: 1_700_000_000,
        rxBytes: 5678,
        txBytes: 1234,
      },
    ]);
    expect(JSON.stringify(peers)).not.toContain("11".repeat(32));
  });

  it.each([
    ["an error", "errno=22\n\n", { code: "UAPI_ERROR", details: { errno: 22 } }],
    ["no errno", `public_key=${KEY_HEX}\n`, { code: "UAPI_ERROR", details: { errno: null } }],
    ["a malformed line", "garbage\nerrno=0\n\n", { code: "UAPI_MALFORMED" }],
    [
      "a bad key",
      "public_key=zz\nerrno=0\n\n",
      { code: "UAPI_MALFORMED", details: { line: "public_key" } },
    ],
  ])("refuses %s", (_name, text, expected) => {
    expect(() => parseUapiGet(text)).toThrow(expect.objectContaining(expected));
  });
});

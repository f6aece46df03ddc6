import { describe, expect, it } from "vitest";
import { DEFAULT_RPC, resolveConfig } from "../../../engine/cli/config.ts";

const CH = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";

describe("config resolution", () => {
  it("takes flags over environment over file, with defaults last", () => {
    const r = resolveConfig({
      flags: { rpc: "http://flag:1" },
      env: { TOLLWAY_RPC: "http://env:1", TOLLWAY_CHANNELS: CH, TOLLWAY_KEY: "0xkey" },
      file: { rpc: "http://file:1", chainId: 31337, dataDir: "/data" },
      fileName: "tollway.config.json",
    });
    expect(r).toMatchObject({
      ok: true,
      value: {
        rpc: "http://flag:1",
        channels: CH,
        chainId: 31337n,
        dataDir: "/data",
        key: "0xkey",
      },
    });
    const d = resolveConfig({ flags: {}, env: {} });
    expect(d).toMatchObject({
      ok: true,
      value: { rpc: DEFAULT_RPC, dataDir: ".tollway", json: false, verbose: false },
    });
  });

  it.each([
    [{ flags: { rpc: "localhost:8545" }, env: {} }, { from: "--rpc" }],
    [{ flags: {}, env: { TOLLWAY_CHANNELS: "0x12" } }, { from: "TOLLWAY_CHANNELS" }],
    [{ flags: { chainId: "0" }, env: {} }, { from: "--chain-id" }],
    [{ flags: { devAccount: "20" }, env: {} }, { from: "--dev-account" }],
    [
      { flags: {}, env: {}, file: { rpcUrl: "http://x" }, fileName: "c.json" },
      { from: "c.json", unknown: ["rpcUrl"] },
    ],
    [
      { flags: {}, env: {}, file: { chainId: "abc" }, fileName: "c.json" },
      { from: "chainId in c.json" },
    ],
  ])("rejects %j, naming the setting and where it came from", (src, details) => {
    expect(resolveConfig(src as never)).toMatchObject({ ok: false, code: "BAD_CONFIG", details });
  });

  it("never reads a private key from a flag or a file", () => {
    const r = resolveConfig({ flags: { key: "0xflag" }, env: {}, file: undefined });
    expect(r).toMatchObject({ ok: true });
    expect((r as { value: { key?: string } }).value.key).toBeUndefined();
    expect(resolveConfig({ flags: {}, env: {}, file: { key: "0xabc" }, fileName: "f" }).ok).toBe(
      false,
    );
  });
});

/** `tollway market`, `tollway provider`, `tollway requester`: each role on its own. */
import { join } from "node:path";
import type { Command } from "commander";
import { Contract } from "ethers";
import { loadArtifact } from "../../../channels/chain/artifacts.ts";
import type { Address } from "../../../channels/types.ts";
import { loadDeployment } from "../../chain/deploy.ts";
import { createMarket } from "../../node/market.ts";
import { loadConfig } from "../context.ts";
import type { Io } from "../io.ts";
import { intFlag } from "./chain.ts";
import { providerCommand } from "./provider.ts";
import { requesterCommand } from "./requester.ts";
import { print, untilSignal } from "./role-io.ts";

/** Registers the three role commands. */
export function roleCommands(program: Command, io: Io) {
  program
    .command("market")
    .description("serve the market (orders, deals, wallets, profiles) over HTTP and WebSocket")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on", "8080")
    .action(async (opts: { host: string; port: string }, cmd: Command) => {
      const config = await loadConfig(cmd.optsWithGlobals());
      const port = intFlag("--port", opts.port, 0, 65_535);
      // Requesters' capacity comes from their token balance on chain, when the chain is there.
      const capacity = await chainCapacity(config.rpc, config.dataDir, config.channels).catch(
        () => undefined,
      );
      const market = await createMarket({
        dir: join(config.dataDir, "market"),
        host: opts.host,
        port,
        chainId: Number(config.chainId ?? 31337n),
        ...(capacity ? { capacityOf: capacity.of } : {}),
      });
      print(
        io,
        config.json,
        { url: market.url, credit: capacity ? "chain" : "operator" },
        `market on ${market.url}${capacity ? "" : " (no chain reachable: requesters' capacity must be set by the operator)"}\nCtrl-C stops it.`,
      );
      await untilSignal();
      await market.close();
      capacity?.close();
    });

  providerCommand(program, io);
  requesterCommand(program, io);
}

/** Reads requesters' token balances from the configured chain, for the market's capacity. */
async function chainCapacity(rpc: string, dataDir: string, channels?: Address) {
  const { providerFor } = await import("../../../channels/chain/client.ts");
  const provider = providerFor(rpc);
  try {
    const address = channels ?? (await loadDeployment(dataDir, provider))?.channels;
    if (!address) throw new Error("no deployment");
    const pc = new Contract(address, loadArtifact("PaymentChannels").abi, provider);
    const token = new Contract(
      await pc.getFunction("token")(),
      loadArtifact("Token").abi,
      provider,
    );
    return {
      of: async (a: Address) => (await token.getFunction("balanceOf")(a)) as bigint,
      close: () => provider.destroy(),
    };
  } catch (err) {
    provider.destroy();
    throw err;
  }
}

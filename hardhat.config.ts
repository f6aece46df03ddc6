import { createRequire } from "node:module";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import hardhatTypechain from "@nomicfoundation/hardhat-typechain";
import { defineConfig } from "hardhat/config";

// solc cannot be downloaded at build time: compile with the soljson.js that the pinned `solc`
// npm package ships.
const require = createRequire(import.meta.url);
const soljson = require.resolve("solc/soljson.js");
const solcVersion: string = require("solc/package.json").version;

export default defineConfig({
  plugins: [hardhatEthers, hardhatTypechain],
  paths: { sources: "./contracts", tests: "./test/contracts" },
  solidity: {
    version: solcVersion,
    path: soljson,
    settings: {
      evmVersion: "cancun",
      optimizer: { enabled: true, runs: 1_000_000 },
      viaIR: true,
    },
  },
  networks: {
    default: { type: "edr-simulated", chainType: "l1", hardfork: "cancun" },
  },
});

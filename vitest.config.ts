import { defineConfig } from "vitest/config";

// Tests that build network namespaces and measure real traffic through them run one file at a
// time, after everything else: two of them at once, or beside the CPU-heavy suites, would skew
// each other's throughput on a two-core machine.
const namespaceTests = [
  "test/engine/demo/tunnels.test.ts",
  "test/relay/tunnel/wireguard-driver.test.ts",
  "test/relay/tunnel/wireguard-paid.test.ts",
  "test/relay/fastlane/fastlane-path.test.ts",
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: namespaceTests,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "namespaces",
          include: namespaceTests,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});

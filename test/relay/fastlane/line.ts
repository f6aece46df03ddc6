/**
 * The line of namespaces the fast-lane tests and bench use (requester → isp1 … ispN → receiver)
 * and the paid vs best-effort iperf3 measurement: the demo's own code.
 */
export type { Line, LineIsp } from "../../../engine/demo/namespaces.ts";
export { buildLine, measureFlows } from "../../../engine/demo/namespaces.ts";

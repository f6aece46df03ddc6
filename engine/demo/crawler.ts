/** Fetches pages through the provider's metered proxy with HTTP CONNECT, counting its own bytes. */
import { connect, type Socket } from "node:net";
import type { TunnelConfig } from "../../relay/index.ts";

/** What the crawler has moved through tunnels, by its own count (headers and bodies both ways). */
export interface CrawlCounters {
  bytes: number;
  pages: number;
}

/**
 * GETs `http://<host>:<port><path>` through the proxy in `tunnel`.
 * @returns the response body, or the proxy's refusal status (e.g. 407 once the session is cut)
 */
export async function fetchThroughProxy(
  tunnel: TunnelConfig,
  target: { readonly host: string; readonly port: number },
  path: string,
  counters: CrawlCounters,
): Promise<Buffer | number> {
  const sock = connect(Number(tunnel.port), String(tunnel.host));
  const auth = Buffer.from(`${tunnel.username}:${tunnel.password}`).toString("base64");
  try {
    await once(sock, "connect");
    const hostPort = `${target.host}:${target.port}`;
    sock.write(`CONNECT ${hostPort} HTTP/1.1\r\nProxy-Authorization: Basic ${auth}\r\n\r\n`);
    const head = await readHead(sock);
    const status = Number(/^HTTP\/1\.[01] (\d+)/.exec(head.head)?.[1]);
    if (status !== 200) return status;
    const request = `GET ${path} HTTP/1.1\r\nHost: ${hostPort}\r\nConnection: close\r\n\r\n`;
    counters.bytes += request.length + head.rest.length;
    const chunks: Buffer[] = [head.rest];
    sock.on("data", (d: Buffer) => {
      counters.bytes += d.length;
      chunks.push(d);
    });
    const done = once(sock, "end");
    sock.write(request);
    await done;
    const response = Buffer.concat(chunks);
    const split = response.indexOf("\r\n\r\n");
    counters.pages++;
    return split < 0 ? response : response.subarray(split + 4);
  } finally {
    sock.destroy();
  }
}

function once(sock: Socket, event: "connect" | "end"): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    sock.once("error", onError);
    sock.once(event, () => {
      sock.off("error", onError);
      resolve();
    });
    if (event === "end") sock.once("close", () => resolve());
  });
}

function readHead(sock: Socket): Promise<{ head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const i = buf.indexOf("\r\n\r\n");
      if (i >= 0) {
        sock.off("data", onData);
        sock.off("close", onClose);
        resolve({ head: buf.subarray(0, i).toString("latin1"), rest: buf.subarray(i + 4) });
      }
    };
    const onClose = () => reject(new Error("the proxy closed the connection"));
    sock.on("data", onData);
    sock.once("close", onClose);
    sock.once("error", reject);
  });
}

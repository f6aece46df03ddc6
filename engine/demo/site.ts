/** A small local website for the demo's crawler: linked pages of HTML on loopback. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A running site. */
export interface Site {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `/page/N` (about `pageBytes` of HTML each, linking to the next), on 127.0.0.1 and a free
 * port unless told otherwise.
 */
export async function startSite(
  pageBytes = 32 * 1024,
  host = "127.0.0.1",
  port = 0,
): Promise<Site> {
  const filler = "<p>tollway demo page: metered, paid per second or per byte.</p>\n";
  const server: Server = createServer((req, res) => {
    const m = /^\/page\/(\d+)$/.exec(req.url ?? "");
    if (!m) {
      res.writeHead(404).end("not found");
      return;
    }
    const n = Number(m[1]);
    const body = `<html><body><h1>page ${n}</h1>\n${filler.repeat(Math.ceil(pageBytes / filler.length))}<a href="/page/${n + 1}">next</a></body></html>`;
    res
      .writeHead(200, { "content-type": "text/html", "content-length": Buffer.byteLength(body) })
      .end(body);
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

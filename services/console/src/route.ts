import { createReadStream, existsSync, statSync } from "node:fs";
import path from "node:path";
import type { HttpRoute } from "@onerouter/core";

// The console is a static bundle (Vite's build in dist/) served under
// /console/. Every path that names no file answers index.html, so a deep
// link (a bookmarked payment, a shared filter) opens the page it names.

export const consolePathPrefix = "/console/";
export const consoleDistDir = path.resolve(import.meta.dirname, "..", "dist");

// No inline script or style and nothing from another origin; the API is
// this origin. frame-ancestors 'none' keeps the console out of frames
// (clickjacking), and no referrer leaks a payment id to another site.
const securityHeaders: Record<string, string> = {
  "Content-Security-Policy": [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; "),
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
};

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

const missingBuild = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>OneRouter console: not built</title></head>
<body><main><h1>The console has not been built</h1>
<p>This server found no console bundle in <code>services/console/dist</code>.
Build it with <code>npm run build --workspace @onerouter/console</code>
(<code>npm ci</code> does this too), then reload this page. The API itself is running.</p></main></body></html>
`;

export function consoleRoute(options: { distDir?: string } = {}): HttpRoute {
  const distDir = options.distDir ?? consoleDistDir;
  return {
    pathPrefix: "/console",
    handler(req, res) {
      const urlPath = (req.url ?? "/").split("?")[0]!;
      if (req.method !== "GET" && req.method !== "HEAD") return respond(res, 405, { Allow: "GET, HEAD" });
      if (!urlPath.startsWith(consolePathPrefix)) return respond(res, 308, { Location: consolePathPrefix });

      let relative: string;
      try {
        relative = decodeURIComponent(urlPath.slice(consolePathPrefix.length));
      } catch {
        return respond(res, 400, { "content-type": "text/plain; charset=utf-8" }, "malformed path\n");
      }
      const file = path.resolve(distDir, relative);
      // A path climbing out of the bundle names nothing in it.
      const inside = file.startsWith(distDir + path.sep);
      const asset = inside && existsSync(file) && statSync(file).isFile() ? file : undefined;
      // A missing file under assets/ is a stale or wrong URL, not a page.
      if (!asset && relative.startsWith("assets/")) {
        return respond(res, 404, { "content-type": "text/plain; charset=utf-8" }, "not found\n");
      }
      const served = asset ?? path.join(distDir, "index.html");
      if (!existsSync(served)) return respond(res, 503, { "content-type": "text/html; charset=utf-8", "Cache-Control": "no-store" }, missingBuild);

      // Vite puts a content hash in every asset name, so those never change;
      // index.html names the current ones and is revalidated each time.
      const immutable = asset !== undefined && relative.startsWith("assets/");
      sendFile(req, res, served, immutable ? "public, max-age=31536000, immutable" : "no-cache");
    },
  };
}

// The API reference the console's build writes to dist/docs/ (see
// build/api-docs.ts), at /docs.
export function docsRoute(options: { distDir?: string } = {}): HttpRoute {
  const docsDir = path.join(options.distDir ?? consoleDistDir, "docs");
  const pages: Record<string, string> = { "/docs": "index.html", "/docs/": "index.html", "/docs/docs.css": "docs.css" };
  return {
    pathPrefix: "/docs",
    handler(req, res) {
      const page = pages[(req.url ?? "/").split("?")[0]!];
      if (req.method !== "GET" && req.method !== "HEAD") return respond(res, 405, { Allow: "GET, HEAD" });
      if (!page) return respond(res, 404, { "content-type": "text/plain; charset=utf-8" }, "not found\n");
      const file = path.join(docsDir, page);
      if (!existsSync(file)) return respond(res, 503, { "content-type": "text/html; charset=utf-8", "Cache-Control": "no-store" }, missingBuild);
      sendFile(req, res, file, "no-cache");
    },
  };
}

type Response = Parameters<HttpRoute["handler"]>[1];

function respond(res: Response, status: number, headers: Record<string, string>, body?: string): void {
  res.writeHead(status, { ...securityHeaders, ...headers });
  res.end(body ?? "");
}

// A file of the build, under the same security headers as every page.
function sendFile(req: Parameters<HttpRoute["handler"]>[0], res: Response, file: string, cacheControl: string): void {
  const headers = {
    "content-type": contentTypes[path.extname(file)] ?? "application/octet-stream",
    "content-length": String(statSync(file).size),
    "Cache-Control": cacheControl,
  };
  if (req.method === "HEAD") return respond(res, 200, headers);
  res.writeHead(200, { ...securityHeaders, ...headers });
  createReadStream(file).pipe(res as NodeJS.WritableStream);
}

import { writeFileSync } from "node:fs";
import path from "node:path";
import { renderMarkdown } from "./api-docs.ts";
import { readApiReference } from "./api-reference.ts";

// Rewrites docs/api.md from the protos: `npm run docs --workspace @onerouter/console`.
const target = path.resolve(import.meta.dirname, "../../../docs/api.md");
writeFileSync(target, renderMarkdown(readApiReference()));
console.log(`wrote ${path.relative(process.cwd(), target)}`);

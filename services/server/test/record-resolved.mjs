// A module resolve hook for tests: appends every URL the process resolves an
// import to (ES modules, and CommonJS packages imported from them) to the
// file RECORD_RESOLVED_FILE names. Registered with module.register.
import { appendFileSync } from "node:fs";

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  appendFileSync(process.env.RECORD_RESOLVED_FILE, `${resolved.url}\n`);
  return resolved;
}

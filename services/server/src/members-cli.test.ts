import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli as run, startCliServer } from "../test/cli";

// A newcomer's first sign-in: the owner made with the CLI (password on
// standard input), then plain fetch with a cookie jar over Connect JSON.

// The cookies a server set, sent back as a browser would.
class CookieJar {
  private readonly cookies = new Map<string, string>();
  take(res: Response) {
    for (const header of res.headers.getSetCookie()) {
      const [pair = ""] = header.split(";");
      const [name = "", value = ""] = pair.split("=");
      if (/Max-Age=0/.test(header)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  }
}

describe("onerouter members create, then signing in", () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "onerouter-members-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  const env = { ONEROUTER_DATA_DIR: dataDir };

  it("refuses a short password and an unknown role, and makes an owner on the database when no server runs", () => {
    const short = run(["members", "create", "--email", "owner@example.com", "--role", "owner"], env, "short\n");
    expect(short.status).toBe(2);
    expect(short.stderr).toContain("password: must be at least 12 characters");
    const badRole = run(["members", "create", "--email", "owner@example.com", "--role", "boss"], env, "long enough password\n");
    expect(badRole.status).toBe(2);
    expect(badRole.stderr).toContain("--role must be one of owner, admin, developer, viewer");

    const made = run(["members", "create", "--email", "Owner@Example.com", "--role", "owner", "--name", "Olive"], env, "the owner's password\n");
    expect(made.status, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/^Created owner owner@example\.com \(mem_[0-9a-z]+\) in tenant ten_/);
    const again = run(["members", "create", "--email", "owner@example.com", "--role", "admin"], env, "the owner's password\n");
    expect(again.status).toBe(2);
    expect(again.stderr).toContain("owner@example.com is already a member");
  }, 180_000);

  it("says in the start banner how to make the first owner, and signs a member made through the running server in with a cookie", async () => {
    const fresh = mkdtempSync(path.join(os.tmpdir(), "onerouter-members-"));
    const server = await startCliServer(fresh);
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const banner = "npx onerouter members create --email you@example.com --role owner";
      await server.waitForLog(banner);
      expect(server.logs()).toContain(banner);

      const made = run(["members", "create", "--email", "owner@example.com", "--role", "owner"], { ONEROUTER_DATA_DIR: fresh }, "the owner's password\n");
      expect(made.status, made.stderr).toBe(0);

      const jar = new CookieJar();
      const connect = async (method: string, body: object, headers: Record<string, string> = {}) => {
        const res = await fetch(`${base}/${method}`, {
          method: "POST",
          headers: { "content-type": "application/json", "connect-protocol-version": "1", cookie: jar.header(), ...headers },
          body: JSON.stringify(body),
        });
        jar.take(res);
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };

      const wrong = await connect("onerouter.admin.v1.SessionService/SignIn", { email: "owner@example.com", password: "not it at all" });
      expect(wrong.status).toBe(401);
      const signedIn = await connect("onerouter.admin.v1.SessionService/SignIn", { email: "owner@example.com", password: "the owner's password" });
      expect(signedIn.status).toBe(200);
      expect(jar.header()).toMatch(/^onerouter_session=/);

      const me = await connect("onerouter.admin.v1.SessionService/WhoAmI", {}, { "onerouter-environment": "live" });
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ environment: "ENVIRONMENT_LIVE", member: { email: "owner@example.com", role: "ROLE_OWNER" } });

      const key = await connect("onerouter.admin.v1.ApiKeyService/CreateApiKey", { name: "from the console" }, { origin: base });
      expect(key.status).toBe(200);
      expect(key.body.secret).toMatch(/^or_test_/);
      const crossSite = await connect("onerouter.admin.v1.ApiKeyService/CreateApiKey", { name: "elsewhere" }, { origin: "http://evil.example" });
      expect(crossSite.status).toBe(403);

      const out = await connect("onerouter.admin.v1.SessionService/SignOut", {}, { origin: base });
      expect(out.status).toBe(200);
      expect(jar.header()).toBe("");
    } finally {
      expect(await server.stop(), server.logs()).toBe("0:null");
      rmSync(fresh, { recursive: true, force: true });
    }
  }, 240_000);
});

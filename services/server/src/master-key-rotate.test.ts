import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCliAsync, startServerProcess, type ServerProcess } from "./cli-processes";

// Maintenance on a live embedded server, as an operator runs it: separate
// processes, payments flowing meanwhile.
describe("maintenance commands beside a running embedded server", () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "onerouter-rotate-"));
  const env = { ONEROUTER_DATA_DIR: dataDir };
  const servers: ServerProcess[] = [];
  afterAll(async () => {
    for (const server of servers) await server.stop("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function call(server: ServerProcess, key: string, method: string, body: object) {
    const res = await fetch(`${server.url}/${method}`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }
  const pay = (server: ServerProcess, key: string, customer: object = {}) =>
    call(server, key, "onerouter.payments.v1.PaymentService/CreatePayment", { amount: "2500", currency: "USD", customer });

  it("rotates the master key while payments go on, then erases a customer's contact data", async () => {
    const server = await startServerProcess(dataDir);
    servers.push(server);
    const created = await runCliAsync(["keys", "create", "--env", "test"], env);
    expect(created.status, created.stderr).toBe(0);
    const key = created.stdout.trim().split("\n").at(-1)!;
    const first = await pay(server, key, { email: "ann@example.com", name: "Ann Lee" });
    expect(first.body.payment?.status, JSON.stringify(first.body)).toBe("PAYMENT_STATUS_SUCCEEDED");
    const oldKey = readFileSync(path.join(dataDir, "master.key"), "utf8");

    // Payments keep decrypting the sandbox account's credentials throughout.
    let paying = true;
    const during: number[] = [];
    const payments = (async () => {
      while (paying) during.push((await pay(server, key)).status);
    })();
    const rotated = await runCliAsync(["master-key", "rotate"], env);
    paying = false;
    await payments;
    expect(rotated.status, rotated.stderr).toBe(0);
    expect(rotated.stdout).toMatch(/Every tenant data key \(1 re-wrapped\)/);
    expect(during.length).toBeGreaterThan(0);
    expect(during.every((s) => s === 200)).toBe(true);
    expect(readFileSync(path.join(dataDir, "master.key"), "utf8")).not.toBe(oldKey);
    // The old key is gone from the folder: nothing needs it any more.
    expect(existsSync(path.join(dataDir, "master.key.previous"))).toBe(false);

    const erased = await runCliAsync(["erase-contact", "--email", "ANN@example.com"], env);
    expect(erased.status, erased.stderr).toBe(0);
    expect(erased.stdout).toContain("Erased: 1 test, 0 live payments");
    const refused = await runCliAsync(["erase-contact", "--phone", "12345"], env);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain("--phone must be an E.164 number");

    expect(await server.stop()).toBe("0:null");
    const again = await startServerProcess(dataDir);
    servers.push(again);
    expect((await pay(again, key)).body.payment?.status).toBe("PAYMENT_STATUS_SUCCEEDED");
    const kept = await call(again, key, "onerouter.payments.v1.PaymentService/GetPayment", { id: first.body.payment.id });
    expect(kept.body.payment).toMatchObject({ amount: "2500", currency: "USD", status: "PAYMENT_STATUS_SUCCEEDED" });
    expect(kept.body.payment.customer ?? {}).toEqual({});
    expect(await again.stop()).toBe("0:null");
  }, 400_000);
});

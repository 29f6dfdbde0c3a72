import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTestDatabaseUrl, postgresAvailable } from "../../test/database";
import { notificationBackends } from "../../test/notifications";
import { createLogger } from "../logging";
import { listenForCommits, outboxNotifyChannel, watchOutboxCommits } from "../outbox-signal";
import { openChangeNotices, type ChangeNotices } from "./change-notices";
import { openDatabase, type Database } from "./database";
import { listenForNotifications, type NotificationSubscription } from "./notifications";

// Every listening connection costs each notifying commit some Postgres CPU,
// so a process listens on one, shared by all that wait for notifications.

const logger = createLogger("silent");
const heardWithinMs = 10_000;

(postgresAvailable() ? describe : describe.skip)("the process's notification connection", () => {
  let url: string;
  let db: Database;

  beforeAll(async () => {
    url = await createTestDatabaseUrl();
    db = openDatabase({ databaseUrl: url, poolMax: 2 });
  });
  afterAll(async () => {
    await db?.close();
  });

  const listeningBackends = () => notificationBackends(db.knex);

  it("is one connection for the outbox's readers, the event streams and the change notices, each hearing its own channels", async () => {
    const heard: string[] = [];
    const outbox = watchOutboxCommits(db.knex, () => heard.push("outbox"), logger);
    const events = listenForCommits(db.knex, "onerouter_test_events", () => heard.push("events"), logger);
    let notices: ChangeNotices | undefined;
    try {
      notices = await openChangeNotices(db, logger);
      const changed: string[] = [];
      for (const channel of ["onerouter_test_accounts", "onerouter_test_profiles"]) {
        notices.listen(channel, { changed: (tenant) => changed.push(`${channel}:${tenant}`), lost: () => {} });
      }
      await expect.poll(() => notices!.live, { timeout: heardWithinMs }).toBe(true);
      await expect.poll(listeningBackends, { timeout: heardWithinMs }).toHaveLength(1);

      heard.length = 0;
      await db.knex.raw("select pg_notify(?, '')", [outboxNotifyChannel]);
      await db.knex.raw("select pg_notify('onerouter_test_profiles', 'ten_1')");
      await expect.poll(() => heard, { timeout: heardWithinMs }).toEqual(["outbox"]);
      await expect.poll(() => changed, { timeout: heardWithinMs }).toEqual(["onerouter_test_profiles:ten_1"]);
      await db.knex.raw("select pg_notify('onerouter_test_events', '')");
      await expect.poll(() => heard, { timeout: heardWithinMs }).toEqual(["outbox", "events"]);
    } finally {
      await notices?.close();
      await events.close();
      await outbox.close();
    }
    // Its backend leaves pg_stat_activity once it has exited, a moment after the client closed.
    await expect.poll(listeningBackends, { timeout: heardWithinMs }).toEqual([]);
  });

  it("listens again after the connection is lost, telling each subscription when it stops and starts hearing", async () => {
    const story: string[] = [];
    const subscriptions: NotificationSubscription[] = ["onerouter_test_a", "onerouter_test_b"].map((channel) =>
      listenForNotifications(
        url,
        channel,
        { notification: (payload) => story.push(`${channel} heard ${payload}`), listening: () => story.push(`${channel} listening`), lost: () => story.push(`${channel} lost`) },
        logger,
      ),
    );
    try {
      await expect.poll(() => subscriptions.every((s) => s.active), { timeout: heardWithinMs }).toBe(true);
      const [first] = await listeningBackends();
      expect(story.sort()).toEqual(["onerouter_test_a listening", "onerouter_test_b listening"]);
      story.length = 0;

      await db.knex.raw("select pg_terminate_backend(?)", [first!]);
      await expect.poll(() => story.sort(), { timeout: heardWithinMs }).toEqual(["onerouter_test_a lost", "onerouter_test_b lost"]);
      await expect.poll(() => subscriptions.every((s) => s.active), { timeout: heardWithinMs }).toBe(true);
      // One connection again, a new one: the terminated backend leaves pg_stat_activity once it has exited.
      await expect.poll(async () => (await listeningBackends()).map((pid) => pid !== first), { timeout: heardWithinMs }).toEqual([true]);
      expect(story.sort()).toEqual(["onerouter_test_a listening", "onerouter_test_a lost", "onerouter_test_b listening", "onerouter_test_b lost"]);

      story.length = 0;
      await db.knex.raw("select pg_notify('onerouter_test_b', 'after')");
      await expect.poll(() => story, { timeout: heardWithinMs }).toEqual(["onerouter_test_b heard after"]);
    } finally {
      await Promise.all(subscriptions.map((s) => s.close()));
    }
    // Its backend leaves pg_stat_activity once it has exited, a moment after the client closed.
    await expect.poll(listeningBackends, { timeout: heardWithinMs }).toEqual([]);
  });

  it("keeps hearing a channel when another channel's last subscription closes, and that one no more", async () => {
    const heard: string[] = [];
    const kept = listenForNotifications(url, "onerouter_test_kept", { notification: () => heard.push("kept") }, logger);
    const closed = listenForNotifications(url, "onerouter_test_closed", { notification: () => heard.push("closed") }, logger);
    try {
      await expect.poll(() => kept.active && closed.active, { timeout: heardWithinMs }).toBe(true);
      await closed.close();
      expect(closed.active).toBe(false);
      await db.knex.raw("select pg_notify('onerouter_test_closed', '')");
      await db.knex.raw("select pg_notify('onerouter_test_kept', '')");
      await expect.poll(() => heard, { timeout: heardWithinMs }).toEqual(["kept"]);
      expect(await listeningBackends()).toHaveLength(1);
    } finally {
      await kept.close();
    }
  });

  it("stops listening on a channel whose last subscription closes while its LISTEN is on the way", async () => {
    // The shared connection's client, caught as it sends its statements, so
    // the test can ask Postgres what that very session listens on.
    const sent = vi.spyOn(pg.Client.prototype, "query");
    const heard: string[] = [];
    const kept = listenForNotifications(url, "onerouter_test_stays", { notification: () => heard.push("stays") }, logger);
    try {
      await expect.poll(() => kept.active, { timeout: heardWithinMs }).toBe(true);
      const client = sent.mock.contexts[sent.mock.calls.findIndex(([sql]) => typeof sql === "string" && sql.startsWith("listen "))] as pg.Client;
      const channels = async () => (await client.query<{ channel: string }>("select pg_listening_channels() as channel order by 1")).rows.map((r) => r.channel);
      expect(await channels()).toEqual(["onerouter_test_stays"]);

      const left = listenForNotifications(url, "onerouter_test_left", { notification: () => heard.push("left") }, logger);
      await left.close();
      await expect.poll(channels, { timeout: heardWithinMs }).toEqual(["onerouter_test_stays"]);

      const back = listenForNotifications(url, "onerouter_test_left", { notification: () => heard.push("back") }, logger);
      try {
        await expect.poll(() => back.active, { timeout: heardWithinMs }).toBe(true);
        await db.knex.raw("select pg_notify('onerouter_test_left', '')");
        await expect.poll(() => heard, { timeout: heardWithinMs }).toEqual(["back"]);
      } finally {
        await back.close();
      }
    } finally {
      sent.mockRestore();
      await kept.close();
    }
  });
});

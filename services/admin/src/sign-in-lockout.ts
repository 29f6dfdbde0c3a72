import type { Knex } from "@onerouter/core";

// Repeated failed sign-ins for one email lock it for a while, whichever
// process served them: the count lives in the database. Five failures within
// fifteen minutes lock the email for fifteen minutes.
export const signInLockout = { maxFailures: 5, windowSeconds: 15 * 60, lockSeconds: 15 * 60 };

// Seconds until `email` may try again; zero when it may now.
export async function signInLockedForSeconds(knex: Knex, email: string): Promise<number> {
  const row = (await knex("sign_in_failures").where({ email }).first("locked_until")) as { locked_until: Date | null } | undefined;
  if (!row?.locked_until) return 0;
  const remainingMs = new Date(row.locked_until).getTime() - Date.now();
  return remainingMs > 0 ? Math.ceil(remainingMs / 1000) : 0;
}

// Counts one failure in one statement, so failures racing in from several
// processes are all counted: a window older than windowSeconds starts over,
// and the failure that reaches maxFailures sets the lock.
export async function recordSignInFailure(knex: Knex, email: string): Promise<void> {
  const { maxFailures, windowSeconds, lockSeconds } = signInLockout;
  const windowOver = `sign_in_failures.window_started_at < now() - (${windowSeconds} * interval '1 second')`;
  const failures = `case when ${windowOver} then 1 else sign_in_failures.failures + 1 end`;
  await knex.raw(
    `insert into sign_in_failures (email, failures, window_started_at) values (?, 1, now())
     on conflict (email) do update set
       failures = ${failures},
       window_started_at = case when ${windowOver} then now() else sign_in_failures.window_started_at end,
       locked_until = case when ${failures} >= ${maxFailures} then now() + (${lockSeconds} * interval '1 second')
                           else sign_in_failures.locked_until end`,
    [email],
  );
  // Guessed emails leave rows behind; once their window and lock are long
  // over they count for nothing.
  await knex("sign_in_failures")
    .where("window_started_at", "<", knex.raw("now() - interval '1 day'"))
    .where((q) => q.whereNull("locked_until").orWhere("locked_until", "<", knex.raw("now()")))
    .delete();
}

export async function clearSignInFailures(knex: Knex, email: string): Promise<void> {
  await knex("sign_in_failures").where({ email }).delete();
}

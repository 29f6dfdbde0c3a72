import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Config, Knex } from "@onerouter/core";
import { MasterKeyring } from "@onerouter/core/master-keys";

// Where the master keys come from. With ONEROUTER_MASTER_KEY the operator
// manages them (ONEROUTER_PREVIOUS_MASTER_KEYS during a rotation). Without,
// embedded mode keeps them in the data folder so a newcomer needs no setup:
// master.key holds the current key, master.key.previous the ones a rotation
// in progress still opens with, one per line.

const currentFile = (dataDir: string) => path.join(dataDir, "master.key");
const previousFile = (dataDir: string) => path.join(dataDir, "master.key.previous");

function readKey(file: string, text: string): Buffer {
  const key = Buffer.from(text.trim(), "base64");
  if (key.length !== 32) throw new Error(`${file} does not hold 32-byte base64 keys`);
  return key;
}

function readPrevious(dataDir: string): Buffer[] {
  const file = previousFile(dataDir);
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => readKey(file, line));
}

// Replaces `file` whole or not at all: a crash leaves the old or the new content.
function writeAtomically(file: string, content: string) {
  const temp = `${file}.tmp`;
  writeFileSync(temp, content, { mode: 0o600 });
  renameSync(temp, file);
}

export function keysInDataFolder(config: Config): boolean {
  return !config.masterKey;
}

export function resolveMasterKeys(config: Config): MasterKeyring {
  if (config.masterKey) return new MasterKeyring(config.masterKey, config.previousMasterKeys);
  const file = currentFile(config.dataDir);
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString("base64"), { mode: 0o600 });
  return new MasterKeyring(readKey(file, readFileSync(file, "utf8")), readPrevious(config.dataDir));
}

export interface Rotation {
  // The key everything is sealed under now.
  keyId: string;
  tenantDataKeys: number;
  webhookSecrets: number;
  // Keys nothing is sealed under any more: with the operator's keys, drop
  // them from ONEROUTER_PREVIOUS_MASTER_KEYS; in the data folder they are gone.
  retiredKeyIds: string[];
}

// Rotations of one keyring run one after another: one forgetting its
// previous keys while another still re-seals under them would lose data.
const rotations = new WeakMap<MasterKeyring, Promise<unknown>>();

// Re-seals everything the master keys seal (tenant data keys, webhook
// endpoint secrets) under the current key, while the server keeps serving:
// every key involved opens throughout. With keys in the data folder, first
// makes a new current key, the old one kept as previous until the end.
export function rotateMasterKey(knex: Knex, keys: MasterKeyring, config: Config): Promise<Rotation> {
  const rotation = (rotations.get(keys) ?? Promise.resolve())
    .catch(() => undefined)
    .then(() => rotateOnce(knex, keys, config));
  rotations.set(keys, rotation);
  return rotation;
}

async function rotateOnce(knex: Knex, keys: MasterKeyring, config: Config): Promise<Rotation> {
  // Loaded when a rotation runs, so reading the master keys (every CLI
  // command that opens the database does) loads neither room.
  const [{ rewrapTenantDataKeys }, { resealEndpointSecrets }] = await Promise.all([import("@onerouter/routing"), import("@onerouter/webhooks")]);
  const inFolder = keysInDataFolder(config);
  if (inFolder) {
    const current = currentFile(config.dataDir);
    const previous = readPrevious(config.dataDir);
    const old = readKey(current, readFileSync(current, "utf8"));
    const fresh = randomBytes(32);
    // The old key is saved as previous before the new one replaces it, so a
    // crash at any point leaves every key that sealed something on disk.
    writeAtomically(previousFile(config.dataDir), [...previous, old].map((k) => k.toString("base64")).join("\n") + "\n");
    writeAtomically(current, fresh.toString("base64"));
    keys.rotateTo(fresh);
  }
  const tenantDataKeys = await rewrapTenantDataKeys(knex, keys);
  const webhookSecrets = await resealEndpointSecrets(knex, keys);
  const retiredKeyIds = keys.previousIds;
  if (inFolder) {
    keys.forgetPrevious();
    rmSync(previousFile(config.dataDir), { force: true });
  }
  return { keyId: keys.currentId, tenantDataKeys, webhookSecrets, retiredKeyIds };
}

import { readFileSync } from "node:fs";
import { UsageError } from "./cli-usage";

// The `onerouter` command. Each command's code loads only when it runs, so
// `--version` and `--help` answer at once and never start anything. A new
// command is one entry in `commands`: its usage lines and how it runs.

interface CliCommand {
  // Its lines in the usage text, which `onerouter <command> --help` prints.
  usage: string;
  run(args: string[]): Promise<number>;
}

const commands: Record<string, CliCommand> = {
  start: {
    usage: `  start                          run every service in one process on PORT (default 8080)
        [--services A,B]             or only these, as in the mesh (see serve)`,
    run: async (args) => (await import("./cli-server")).start(args),
  },
  serve: {
    usage: `  serve SERVICE[,SERVICE...]     run services behind Envoy on PORT (default 8080): payments,
                                 messaging, webhooks, admin, gatekeeper, and the workers
                                 webhook-dispatcher and outbox-relay; with DATABASE_URL the
                                 schema comes from \`onerouter migrate\``,
    run: async (args) => (await import("./cli-server")).serve(args),
  },
  dev: {
    usage: `  dev                            start, wired to local emulators of Stripe, Razorpay, PayPal,
                                 Twilio, Vonage, SendGrid and Mailgun, with dev routing`,
    run: async (args) => (await import("./cli-server")).dev(args),
  },
  migrate: {
    usage: `  migrate                        apply database migrations, create the default tenant, and exit`,
    run: async (args) => (await import("./cli-operations")).migrate(args),
  },
  keys: {
    usage: `  keys create --env test|live    create an API key; the key is the last line printed
        [--name NAME] [--tenant ID]  (default: the default tenant)
  keys list --env test|live      list API keys (prefix, name, created, last used)
        [--all] [--tenant ID]    (--all: revoked ones too)
  keys revoke KEY_ID             revoke an API key at once; calls with it are refused
        [--tenant ID]`,
    run: async (args) => (await import("./cli-operations")).keys(args),
  },
  members: {
    usage: `  members create --email ADDRESS create a member who signs in to the console; the password is
        --role owner|admin|developer|viewer
        [--name NAME] [--tenant ID]  asked on the terminal, or read from standard input`,
    run: async (args) => (await import("./cli-operations")).members(args),
  },
  "master-key": {
    usage: `  master-key rotate              re-seal every tenant data key and webhook secret under the
                                 current master key (embedded: under a new one), while serving`,
    run: async (args) => (await import("./cli-operations")).masterKey(args),
  },
  tenants: {
    usage: `  tenants create --name NAME     create a tenant (default plan: free); its id is the last line
        [--plan free|pro|enterprise]
  tenants list                   list tenants with their plan and standing
  tenants suspend ID             refuse every call of the tenant's keys and sessions; nothing
                                 is deleted
  tenants resume ID              accept them again
  tenants set-plan ID PLAN       move the tenant to another plan`,
    run: async (args) => (await import("./cli-operations")).tenants(args),
  },
  "erase-contact": {
    usage: `  erase-contact --email ADDRESS  erase a person's contact data from payments, messages and
        | --phone +E164          events; amounts, statuses and ids stay
        [--tenant ID]            (default: the default tenant)`,
    run: async (args) => (await import("./cli-operations")).eraseContact(args),
  },
  listen: {
    usage: `  listen --forward-to URL        stream this key's events and POST each to URL (e.g. your app on
        | --print-json           localhost), signed the Standard Webhooks way with a secret printed
                                 at start; or print each as a line of JSON
        [--events TYPE,...]      only these types; "payment.*" matches a prefix
        [--api-key KEY]          default: ONEROUTER_API_KEY
        [--url URL]              default: ONEROUTER_URL, else http://localhost:PORT (8080)
        [--secret whsec_...]     sign with this secret instead of a new one`,
    run: async (args) => (await import("./listen")).listenCommand(args),
  },
};

const usage = `Usage: onerouter <command> [--help]

Commands:
${Object.values(commands)
  .map((c) => c.usage)
  .join("\n")}
  --version                      print the version

With an embedded data folder, commands other than start and dev go through
the server that holds the folder, if one runs.

Configuration comes from environment variables; see the README.`;

const commandUsage = (name: string) => `Usage: onerouter ${name} ...\n\n${commands[name]!.usage}\n\nConfiguration comes from environment variables; see the README.`;

function version(): string {
  const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  return `onerouter ${version} (Node.js ${process.versions.node})`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === "help" || name === "--help" || name === "-h") {
    const about = args[0] && Object.hasOwn(commands, args[0]) ? commandUsage(args[0]) : usage;
    console.log(about);
    return name ? 0 : 2;
  }
  if (name === "--version" || name === "-v" || name === "version") {
    console.log(version());
    return 0;
  }
  if (!Object.hasOwn(commands, name)) throw new UsageError(`unknown command "${name}"`);
  const options = args.slice(0, args.includes("--") ? args.indexOf("--") : undefined);
  if (options.includes("--help") || options.includes("-h")) {
    console.log(commandUsage(name));
    return 0;
  }
  return commands[name]!.run(args);
}

// What went wrong, in one line, with the exit code sysexits(3) gives it.
async function fail(err: unknown): Promise<number> {
  if (err instanceof UsageError) {
    console.error(`onerouter: ${err.message}\n\n${err.command && Object.hasOwn(commands, err.command) ? commandUsage(err.command) : usage}`);
    return 2;
  }
  const [{ ConfigError }, { DataFolderBusyError }] = await Promise.all([import("@onerouter/core/config"), import("@onerouter/core/data-folder-lock")]);
  if (err instanceof ConfigError) {
    console.error(`onerouter: invalid configuration: ${err.message}`);
    return 78;
  }
  console.error(`onerouter: ${err instanceof Error ? err.message : String(err)}`);
  return err instanceof DataFolderBusyError ? 75 : 1;
}

main(process.argv.slice(2))
  .catch(fail)
  .then((code) => process.exit(code));

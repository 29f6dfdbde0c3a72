import { guardedAgents, httpUrl, keptAliveAgents, parseCidr, parseIp, type Cidr, type GuardedAgents, type KeptAliveAgents } from "@onerouter/core";

// Where provider calls may go. A provider account calls its provider's own
// API unless its settings.base_url points elsewhere, which only an operator
// can allow (ONEROUTER_PROVIDER_BASE_URLS, `onerouter dev` for its
// emulators); wherever a call goes, its connections follow the same SSRF
// rules as webhook deliveries, with their own allow-list of ranges
// (ONEROUTER_PROVIDER_ALLOWED_CIDRS). The same allow-list of origins holds
// for every setting that names where a request goes: settings.webhook_url,
// where the built-in sandbox sends an account's webhooks, too.

// The account settings naming a URL that OneRouter, or its built-in sandbox
// on its behalf, sends requests to.
export const providerUrlSettings = ["base_url", "webhook_url"] as const;

export interface ProviderOutboundOptions {
  // Origins (scheme://host[:port]) an account's URL settings may name.
  baseUrls: readonly string[];
  // Ranges provider calls may reach although private, loopback, link-local...
  allowedCidrs: readonly string[];
}

// How one provider call reaches the network.
export interface ProviderTransport {
  // The only way out: agents that refuse forbidden addresses at connect
  // time. These make a fresh connection for every request.
  agents: GuardedAgents;
  // The same rules over connections kept alive across calls, for clients
  // of providers that deduplicate a resent request by its idempotency key:
  // they resend once on `agents` when the connection they reused closed
  // before any answer (sendResendingOnClosedReuse). Without that, an idle
  // close would read as ambiguous; without the key, the resend could act twice.
  keptAlive: GuardedAgents;
  // The call goes to the account's settings.base_url, not to the provider:
  // what answers there is not the provider, so its text is not passed on.
  override: boolean;
  // Why the call may not be made at all; its agents then refuse every connection.
  blocked?: string;
  // Why a connection of this call was refused, once one was.
  refusal(): string | undefined;
}

export class ProviderOutbound {
  private readonly origins: Set<string>;
  private readonly allowList: Cidr[];
  // Kept connections by the extra address a call may reach ("" for none).
  private readonly pools = new Map<string, KeptAliveAgents>();
  // URL settings as parsed, by their text: every provider call checks its
  // account's few URLs again, and parsing one costs more than the check.
  private readonly parsedUrls = new Map<string, ParsedUrl>();

  constructor(options: ProviderOutboundOptions) {
    this.origins = new Set(options.baseUrls.map(originOf));
    this.allowList = options.allowedCidrs.map(parseCidr);
  }

  // Lets accounts name these URLs' origins too (`onerouter dev`, whose
  // emulators are known only once they listen).
  allowBaseUrls(...urls: string[]): void {
    for (const url of urls) this.origins.add(originOf(url));
  }

  // Why an account's URL setting may not name `value`, or undefined when it
  // may. The reason reads after the field name.
  urlRefusal(value: string): string | undefined {
    const url = this.parsed(value);
    if ("problem" in url) return url.problem;
    if (!this.origins.has(url.origin)) {
      return `may not point at ${url.origin}: accounts send requests only to their provider's own API and to origins an operator allows in ONEROUTER_PROVIDER_BASE_URLS`;
    }
    return undefined;
  }

  // The first of `settings`' URL settings that names what it may not, and why.
  settingsRefusal(settings: Record<string, string>): { key: (typeof providerUrlSettings)[number]; reason: string } | undefined {
    for (const key of providerUrlSettings) {
      const reason = settings[key] ? this.urlRefusal(settings[key]) : undefined;
      if (reason) return { key, reason };
    }
    return undefined;
  }

  // An account's stored settings as its calls may use them: a webhook_url no
  // longer allowed is left out, so its default (this server) applies. A
  // base_url is kept: its calls are refused instead (see transport), since
  // sending them elsewhere would not be what the tenant chose.
  usableSettings(settings: Record<string, string>): Record<string, string> {
    if (!settings.webhook_url || !this.urlRefusal(settings.webhook_url)) return settings;
    const usable = { ...settings };
    delete usable.webhook_url;
    return usable;
  }

  // The transport of one call. `chosen` are the account's settings as stored
  // (what the tenant chose); `resolved` what the call uses, where the engine
  // may have filled in its own target (the built-in sandbox), whose address
  // is then allowed for this call.
  transport(chosen: Record<string, string>, resolved: Record<string, string>): ProviderTransport {
    let refusal: string | undefined;
    const override = Boolean(chosen.base_url);
    const blocked = override ? this.blockedReason(chosen.base_url!) : undefined;
    const operatorHost = !override && resolved.base_url ? this.literalHost(resolved.base_url) : undefined;
    const allowList = operatorHost ? [...this.allowList, parseCidr(operatorHost)] : this.allowList;
    const onRefused = (reason: string) => {
      refusal ??= reason;
    };
    // Made on first use: most calls go over kept connections, and an agent is
    // not free to make.
    let fresh: GuardedAgents | undefined;
    const freshAgents = () => (fresh ??= guardedAgents({ allowList, refuseAll: blocked, onRefused }));
    const agents: GuardedAgents = {
      get http() {
        return freshAgents().http;
      },
      get https() {
        return freshAgents().https;
      },
    };
    const keptAlive = blocked === undefined ? this.pool(operatorHost ?? "", allowList).forCall(onRefused) : agents;
    return { agents, keptAlive, override, blocked, refusal: () => refusal };
  }

  private pool(key: string, allowList: Cidr[]): KeptAliveAgents {
    let pool = this.pools.get(key);
    if (!pool) {
      pool = keptAliveAgents({ allowList });
      this.pools.set(key, pool);
    }
    return pool;
  }

  private blockedReason(baseUrl: string): string | undefined {
    const refused = this.urlRefusal(baseUrl);
    return refused && `settings.base_url ${refused}`;
  }

  // The host of `url` when it is an IP address.
  private literalHost(url: string): string | undefined {
    const parsed = this.parsed(url);
    if ("problem" in parsed) return undefined;
    const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
    return parseIp(host) ? host : undefined;
  }

  private parsed(value: string): ParsedUrl {
    let parsed = this.parsedUrls.get(value);
    if (!parsed) {
      const url = httpUrl(value);
      parsed = typeof url === "string" ? { problem: url } : { origin: url.origin, hostname: url.hostname };
      // Values come from stored settings and from requests checking new
      // ones, so the map is emptied now and then rather than growing.
      if (this.parsedUrls.size >= maxParsedUrls) this.parsedUrls.clear();
      this.parsedUrls.set(value, parsed);
    }
    return parsed;
  }
}

// An http(s) URL's parts that the rules look at, or why it is not one.
type ParsedUrl = { origin: string; hostname: string } | { problem: string };

const maxParsedUrls = 1000;

function originOf(url: string): string {
  return new URL(url).origin;
}

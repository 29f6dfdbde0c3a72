import { Code, ConnectError } from "@connectrpc/connect";
import { TransportProvider, useMutation, useQuery } from "@connectrpc/connect-query";
import type { ConsoleEnvironment } from "@onerouter/client";
import { SessionService } from "@onerouter/client/gen/onerouter/admin/v1/session_pb";
import { useQueryClient } from "@tanstack/react-query";
import { lazy, Suspense, useEffect, useState, type ComponentType } from "react";
import { clients, environments } from "./api";
import { Link, navigate, useLocation } from "./router";
import { SessionContext, sessionOf } from "./session";
import { ErrorState, Loading } from "./ui";

// The console's pages, each its own chunk loaded when first opened, so the
// first load carries only the shell and the sign-in page.
// A page is offered in the navigation only to members whose role may call
// the RPC it is made of (`needs`, as WhoAmI names it; named rather than
// imported so the first load carries no service's descriptors); the
// reference calls none.
interface PageEntry {
  path: string;
  title: string;
  needs?: string;
  load: () => Promise<{ default: PageComponent }>;
}

const pages: PageEntry[] = [
  { path: "", title: "Overview", needs: "onerouter.admin.v1.AnalyticsService/GetOverview", load: () => import("./pages/overview") },
  { path: "payments", title: "Payments", needs: "onerouter.payments.v1.PaymentService/ListPayments", load: () => import("./pages/payments") },
  { path: "messages", title: "Messages", needs: "onerouter.messaging.v1.MessagingService/ListMessages", load: () => import("./pages/messages") },
  {
    path: "provider-accounts",
    title: "Provider accounts",
    needs: "onerouter.admin.v1.ProviderAccountService/ListProviderAccounts",
    load: () => import("./pages/provider-accounts"),
  },
  { path: "routing", title: "Routing", needs: "onerouter.admin.v1.RoutingService/GetRoutingProfile", load: () => import("./pages/routing") },
  { path: "webhooks", title: "Webhooks", needs: "onerouter.webhooks.v1.WebhookService/ListEndpoints", load: () => import("./pages/webhooks") },
  { path: "api-keys", title: "API keys", needs: "onerouter.admin.v1.ApiKeyService/ListApiKeys", load: () => import("./pages/api-keys") },
  { path: "team", title: "Team", needs: "onerouter.admin.v1.TeamService/ListMembers", load: () => import("./pages/team") },
  { path: "usage", title: "Plan and usage", needs: "onerouter.admin.v1.UsageService/GetUsage", load: () => import("./pages/usage") },
  { path: "analytics", title: "Analytics", needs: "onerouter.admin.v1.AnalyticsService/CompareProviders", load: () => import("./pages/analytics") },
  { path: "audit-log", title: "Audit log", needs: "onerouter.admin.v1.AuditLogService/ListAuditLogEntries", load: () => import("./pages/audit-log") },
  { path: "reference", title: "API reference", load: () => import("./pages/reference") },
];
type PageComponent = ComponentType<{ params: string[] }>;

// Pages already loaded, so opening one again renders at once, and the page
// named by the URL starts loading while the session is still being checked.
// (Suspense would hold a page that resolves quickly back for its throttle.)
const loadedPages = new Map<string, PageComponent>();
const loadingPages = new Map<string, Promise<PageComponent>>();
function loadPage(section: string): Promise<PageComponent> | undefined {
  const entry = pages.find((page) => page.path === section);
  if (!entry) return undefined;
  let loading = loadingPages.get(section);
  if (!loading) {
    loading = entry.load().then(({ default: component }) => {
      loadedPages.set(section, component);
      return component;
    });
    loadingPages.set(section, loading);
  }
  return loading;
}

// The page a visitor opens first loads alongside the main script's own work.
const opened = /^\/console\/(?:test|live)\/([^/?]*)/.exec(window.location.pathname);
if (opened) void loadPage(opened[1]!);

function usePage(section: string): { component?: PageComponent; missing: boolean } {
  const [, setLoaded] = useState(0);
  const component = loadedPages.get(section);
  useEffect(() => {
    if (!component) void loadPage(section)?.then(() => setLoaded((n) => n + 1));
  }, [component, section]);
  return { component, missing: !pages.some((page) => page.path === section) };
}
const SignIn = lazy(() => import("./pages/sign-in"));
const AcceptInvitation = lazy(() => import("./pages/accept-invitation"));

const lastEnvironmentKey = "onerouter.console.environment";

function isEnvironment(value: string | undefined): value is ConsoleEnvironment {
  return (environments as readonly string[]).includes(value ?? "");
}

export function App() {
  const { path } = useLocation();
  const [first, second = "", ...rest] = path.split("/").filter(Boolean);
  const outside = first === "sign-in" ? SignIn : first === "accept-invitation" ? AcceptInvitation : undefined;
  if (outside) {
    const Outside = outside;
    return (
      <Suspense fallback={<Loading what="the page" />}>
        <TransportProvider transport={clients.test.transport}>
          <Outside />
        </TransportProvider>
      </Suspense>
    );
  }
  if (!isEnvironment(first)) return <Redirect to={`/${localStorage.getItem(lastEnvironmentKey) === "live" ? "live" : "test"}/`} />;
  return (
    // Keyed by environment: switching drops the other environment's state.
    <TransportProvider key={first} transport={clients[first].transport}>
      <Shell environment={first} section={second} params={rest} />
    </TransportProvider>
  );
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}

function Shell({ environment, section, params }: { environment: ConsoleEnvironment; section: string; params: string[] }) {
  const current = usePage(section);
  const whoAmI = useQuery(SessionService.method.whoAmI, {});
  const queryClient = useQueryClient();
  const signOut = useMutation(SessionService.method.signOut, {
    onSettled: () => {
      queryClient.clear();
      navigate("/sign-in", { replace: true });
    },
  });
  useEffect(() => localStorage.setItem(lastEnvironmentKey, environment), [environment]);

  if (whoAmI.error instanceof ConnectError && whoAmI.error.code === Code.Unauthenticated) {
    const next = window.location.pathname + window.location.search;
    return <Redirect to={`/sign-in?next=${encodeURIComponent(next)}`} />;
  }
  if (whoAmI.isPending) return <Loading what="your session" />;
  if (whoAmI.error) return <ErrorState error={whoAmI.error} what="your session" />;

  const session = sessionOf(whoAmI.data, environment);
  const here = window.location.pathname.replace(/^\/console\/(test|live)/, "");
  return (
    <SessionContext.Provider value={session}>
      <div className={`shell env-${environment}`}>
        <a className="skip" href="#main">
          Skip to content
        </a>
        <header className="topbar">
          <span className="brand">OneRouter</span>
          <span className="tenant">{whoAmI.data.tenantName}</span>
          <div className="env-switch" role="group" aria-label="Environment">
            {environments.map((env) => (
              <Link key={env} to={`/${env}${here}`} aria-current={env === environment ? "true" : undefined} className={`env-option env-${env}`}>
                {env === "live" ? "Live" : "Test"}
              </Link>
            ))}
          </div>
          {environment === "live" && (
            <strong className="live-banner" role="note">
              LIVE: real money and real messages
            </strong>
          )}
          <span className="who">
            {whoAmI.data.member?.email} <span className="role">({roleName(whoAmI.data.member?.role)})</span>
          </span>
          <button type="button" onClick={() => signOut.mutate({})} disabled={signOut.isPending}>
            Sign out
          </button>
        </header>
        <nav className="sidebar" aria-label="Console">
          <ul>
            {pages
              .filter((page) => !page.needs || session.can(page.needs))
              .map((page) => (
                <li key={page.path}>
                  <Link to={`/${environment}/${page.path}`} aria-current={page.path === section ? "page" : undefined}>
                    {page.title}
                  </Link>
                </li>
              ))}
          </ul>
        </nav>
        <main id="main" className="content">
          {current.missing ? (
            <ErrorState error={new Error(`no page at ${window.location.pathname}`)} />
          ) : current.component ? (
            <current.component params={params} />
          ) : (
            <Loading what="the page" />
          )}
        </main>
      </div>
    </SessionContext.Provider>
  );
}

const roleNames = ["member", "owner", "admin", "developer", "viewer"];
function roleName(role: number | undefined): string {
  return roleNames[role ?? 0] ?? "member";
}

import { Code, ConnectError } from "@connectrpc/connect";
import { TransportProvider, useMutation, useQuery } from "@connectrpc/connect-query";
import type { ConsoleEnvironment } from "@onerouter/client";
import { SessionService } from "@onerouter/client/gen/onerouter/admin/v1/session_pb";
import { useQueryClient } from "@tanstack/react-query";
import { lazy, Suspense, useEffect, type ComponentType } from "react";
import { clients, environments } from "./api";
import { Link, navigate, useLocation } from "./router";
import { SessionContext, sessionOf } from "./session";
import { ErrorState, Loading } from "./ui";

// The console's pages, each its own chunk loaded when first opened, so the
// first load carries only the shell and the sign-in page.
interface PageEntry {
  path: string;
  title: string;
  load: () => Promise<{ default: ComponentType<{ params: string[] }> }>;
}

const pages: PageEntry[] = [
  { path: "", title: "Overview", load: () => import("./pages/overview") },
  { path: "payments", title: "Payments", load: () => import("./pages/payments") },
  { path: "messages", title: "Messages", load: () => import("./pages/messages") },
  { path: "provider-accounts", title: "Provider accounts", load: () => import("./pages/provider-accounts") },
  { path: "routing", title: "Routing", load: () => import("./pages/routing") },
  { path: "webhooks", title: "Webhooks", load: () => import("./pages/webhooks") },
  { path: "api-keys", title: "API keys", load: () => import("./pages/api-keys") },
  { path: "team", title: "Team", load: () => import("./pages/team") },
  { path: "usage", title: "Plan and usage", load: () => import("./pages/usage") },
  { path: "analytics", title: "Analytics", load: () => import("./pages/analytics") },
  { path: "audit-log", title: "Audit log", load: () => import("./pages/audit-log") },
  { path: "reference", title: "API reference", load: () => import("./pages/reference") },
];
const lazyPages = new Map(pages.map((page) => [page.path, lazy(page.load)]));
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
  const Current = lazyPages.get(section);
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
            {pages.map((page) => (
              <li key={page.path}>
                <Link to={`/${environment}/${page.path}`} aria-current={page.path === section ? "page" : undefined}>
                  {page.title}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" className="content">
          <Suspense fallback={<Loading what="the page" />}>
            {Current ? <Current params={params} /> : <ErrorState error={new Error(`no page at ${window.location.pathname}`)} />}
          </Suspense>
        </main>
      </div>
    </SessionContext.Provider>
  );
}

const roleNames = ["member", "owner", "admin", "developer", "viewer"];
function roleName(role: number | undefined): string {
  return roleNames[role ?? 0] ?? "member";
}

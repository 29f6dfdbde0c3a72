import { useMutation } from "@connectrpc/connect-query";
import { SessionService } from "@onerouter/client/gen/onerouter/admin/v1/session_pb";
import { errorInfo } from "@onerouter/client";
import { useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { navigate, useLocation } from "../router";
import { ErrorState } from "../ui";

// Email and password; a tenant id only when the same credentials belong to
// members of several tenants (the server says TENANT_REQUIRED).
export default function SignIn() {
  const { query } = useLocation();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [tenantId, setTenantId] = useState("");
  const queryClient = useQueryClient();
  const signIn = useMutation(SessionService.method.signIn, {
    onSuccess: () => {
      // Answers cached while signed out (WhoAmI's refusal among them) are not this member's.
      queryClient.clear();
      const next = query.get("next");
      // Only a path of this console, never another site.
      navigate(next && /^\/console\/(test|live)\//.test(next) ? next : "/test/", { replace: true });
    },
  });
  const needsTenant = tenantId !== "" || errorInfo(signIn.error)?.reason === "TENANT_REQUIRED";
  const submit = (event: FormEvent) => {
    event.preventDefault();
    signIn.mutate({ email, password, tenantId });
  };
  document.title = "Sign in · OneRouter";
  return (
    <main className="sign-in">
      <form onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Sign in to OneRouter</h1>
        <label>
          Email
          <input type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          Password
          <input type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        {needsTenant && (
          <label>
            Tenant id
            <input required value={tenantId} onChange={(e) => setTenantId(e.target.value)} />
          </label>
        )}
        {signIn.error && <ErrorState error={signIn.error} />}
        <button type="submit" className="primary" disabled={signIn.isPending}>
          {signIn.isPending ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}

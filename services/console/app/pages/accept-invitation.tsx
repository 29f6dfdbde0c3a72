import { useMutation } from "@connectrpc/connect-query";
import { TeamService } from "@onerouter/client/gen/onerouter/admin/v1/team_pb";
import { useState, type FormEvent } from "react";
import { Link, useLocation } from "../router";
import { ErrorState } from "../ui";

// Where an invitation's link lands: the invited person picks a name and a
// password, then signs in like every member.
export default function AcceptInvitation() {
  const { query } = useLocation();
  const token = query.get("token") ?? "";
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const accept = useMutation(TeamService.method.acceptInvitation);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    accept.mutate({ token, name, password });
  };
  document.title = "Accept an invitation · OneRouter";
  return (
    <main className="sign-in">
      {accept.data ? (
        <div role="status">
          <h1>Welcome, {accept.data.member?.name || accept.data.member?.email}</h1>
          <p>
            Your account is ready. <Link to="/sign-in">Sign in</Link>
          </p>
        </div>
      ) : (
        <form onSubmit={submit} aria-labelledby="accept-title">
          <h1 id="accept-title">Join a OneRouter team</h1>
          {!token && <ErrorState error={new Error("this link has no invitation token; open the link from the invitation email")} />}
          <label>
            Your name
            <input required autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} />
          </label>
          <label>
            Password (12 characters at least)
            <input type="password" required minLength={12} autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
          </label>
          {accept.error && <ErrorState error={accept.error} />}
          <button type="submit" className="primary" disabled={!token || accept.isPending}>
            Accept invitation
          </button>
        </form>
      )}
    </main>
  );
}

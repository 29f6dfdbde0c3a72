import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { InvitationStatus, Role, TeamService, type Member } from "@onerouter/client/gen/onerouter/admin/v1/team_pb";
import { useState, type FormEvent } from "react";
import { Permitted, PermittedButton, useSession } from "../session";
import { Confirm, CopyButton, enumLabel, EnumOptions, ErrorState, formatTime, Loaded, Page, StatusBadge, Table } from "../ui";

const roles = [Role.OWNER, Role.ADMIN, Role.DEVELOPER, Role.VIEWER];

export default function Team() {
  const { whoAmI, can } = useSession();
  const members = useQuery(TeamService.method.listMembers, { pageSize: 100 });
  const invitations = useQuery(TeamService.method.listInvitations, { pageSize: 100 }, { enabled: can(TeamService.method.listInvitations) });
  const queryClient = useQueryClient();
  const invalidate = () => void queryClient.invalidateQueries();
  const [removing, setRemoving] = useState<Member>();
  const updateRole = useMutation(TeamService.method.updateMemberRole, { onSuccess: invalidate });
  const remove = useMutation(TeamService.method.removeMember, {
    onSuccess: () => {
      setRemoving(undefined);
      invalidate();
    },
  });
  const revoke = useMutation(TeamService.method.revokeInvitation, { onSuccess: invalidate });
  const failed = updateRole.error ?? remove.error ?? revoke.error;
  return (
    <Page title="Team">
      <Permitted method={TeamService.method.createInvitation}>
        <Invite onInvited={invalidate} />
      </Permitted>
      {failed && <ErrorState error={failed} />}
      <h2>Members</h2>
      <Loaded query={members} what="members" isEmpty={(data) => data.members.length === 0} empty="No members.">
        {(data) => (
          <Table headings={["Email", "Name", "Role", "Last sign-in", ""]}>
            {data.members.map((member) => (
              <tr key={member.id}>
                <td>{member.email}</td>
                <td>{member.name}</td>
                <td>
                  {can(TeamService.method.updateMemberRole) && member.id !== whoAmI.member?.id ? (
                    <select
                      aria-label={`Role of ${member.email}`}
                      value={member.role}
                      onChange={(e) => updateRole.mutate({ memberId: member.id, role: Number(e.target.value) })}
                    >
                      <EnumOptions enumObject={Role} values={roles} />
                    </select>
                  ) : (
                    enumLabel(Role, member.role)
                  )}
                </td>
                <td>{formatTime(member.lastSignInTime)}</td>
                <td>
                  {member.id !== whoAmI.member?.id && (
                    <PermittedButton method={TeamService.method.removeMember} className="danger" onClick={() => setRemoving(member)}>
                      Remove
                    </PermittedButton>
                  )}
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Loaded>
      <Permitted method={TeamService.method.listInvitations}>
        <h2>Invitations</h2>
        <Loaded query={invitations} what="invitations" isEmpty={(data) => data.invitations.length === 0} empty="No invitations.">
          {(data) => (
            <Table headings={["Email", "Role", "Status", "Expires", ""]}>
              {data.invitations.map((invitation) => (
                <tr key={invitation.id}>
                  <td>{invitation.email}</td>
                  <td>{enumLabel(Role, invitation.role)}</td>
                  <td>
                    <StatusBadge label={enumLabel(InvitationStatus, invitation.status)} />
                  </td>
                  <td>{formatTime(invitation.expireTime)}</td>
                  <td>
                    {invitation.status === InvitationStatus.PENDING && (
                      <PermittedButton method={TeamService.method.revokeInvitation} onClick={() => revoke.mutate({ id: invitation.id })}>
                        Revoke
                      </PermittedButton>
                    )}
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </Loaded>
      </Permitted>
      {removing && (
        <Confirm
          title={`Remove ${removing.email}?`}
          confirmLabel="Remove member"
          danger
          busy={remove.isPending}
          onCancel={() => setRemoving(undefined)}
          onConfirm={() => remove.mutate({ memberId: removing.id })}
        >
          <p>Their sessions end at once.</p>
        </Confirm>
      )}
    </Page>
  );
}

function Invite({ onInvited }: { onInvited: () => void }) {
  const [email, setEmail] = useState("");
  const [role, setRole] = useState(Role.DEVELOPER);
  const invite = useMutation(TeamService.method.createInvitation, {
    onSuccess: () => {
      setEmail("");
      onInvited();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    invite.mutate({ email, role });
  };
  const link = invite.data?.token ? `${window.location.origin}/console/accept-invitation?token=${encodeURIComponent(invite.data.token)}` : undefined;
  return (
    <form onSubmit={submit} className="inline" aria-label="Invite a member">
      <label>
        Email
        <input type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
      </label>
      <label>
        Role
        <select value={role} onChange={(e) => setRole(Number(e.target.value))}>
          <EnumOptions enumObject={Role} values={roles} />
        </select>
      </label>
      <button type="submit" className="primary" disabled={invite.isPending}>
        Invite
      </button>
      {invite.error && <ErrorState error={invite.error} />}
      {link && (
        <p role="status">
          Invitation sent. Its link: <code>{link}</code> <CopyButton text={link} />
        </p>
      )}
    </form>
  );
}

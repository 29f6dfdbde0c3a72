import type { DescMethod } from "@bufbuild/protobuf";
import type { WhoAmIResponse } from "@onerouter/client/gen/onerouter/admin/v1/session_pb";
import type { ConsoleEnvironment } from "@onerouter/client";
import { createContext, useContext, type ButtonHTMLAttributes } from "react";

// Who is signed in, in which environment, and which RPCs the role allows:
// a control for a method not in WhoAmI's permitted_methods is not offered
// (the server refuses such a call all the same).
export interface Session {
  whoAmI: WhoAmIResponse;
  environment: ConsoleEnvironment;
  // A method, or its "package.Service/Method" name.
  can(method: DescMethod | string): boolean;
}

// "package.Service/Method", as WhoAmI's permitted_methods names them.
function methodName(method: DescMethod): string {
  return `${method.parent.typeName}/${method.name}`;
}

export const SessionContext = createContext<Session | undefined>(undefined);

export function sessionOf(whoAmI: WhoAmIResponse, environment: ConsoleEnvironment): Session {
  const permitted = new Set(whoAmI.permittedMethods);
  return { whoAmI, environment, can: (method) => permitted.has(typeof method === "string" ? method : methodName(method)) };
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in page");
  return session;
}

// Renders its children only when the member may call `method`.
export function Permitted({ method, children }: { method: DescMethod; children: React.ReactNode }) {
  return useSession().can(method) ? <>{children}</> : null;
}

// A button for one RPC, offered only to members who may call it.
export function PermittedButton({ method, ...button }: { method: DescMethod } & ButtonHTMLAttributes<HTMLButtonElement>) {
  return useSession().can(method) ? <button type="button" {...button} /> : null;
}

import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { Code } from "@connectrpc/connect";
import { apiError, unimplemented } from "./errors";
import { callerKey, type Caller } from "./context";

// Registers a service whose methods are not all built yet: the missing ones
// answer UNIMPLEMENTED with an ErrorInfo, like every other error.
export function servicePartially<S extends DescService>(
  router: ConnectRouter,
  service: S,
  impl: Partial<ServiceImpl<S>>,
): void {
  const full: Record<string, unknown> = {};
  for (const method of service.methods) {
    const own = (impl as Record<string, unknown>)[method.localName];
    if (own) {
      full[method.localName] = own;
    } else if (method.methodKind === "unary") {
      full[method.localName] = () => {
        throw unimplemented(`${service.typeName}.${method.name}`);
      };
    } else {
      // Streaming methods are generators; throwing from the generator reports the error.
      full[method.localName] = async function* () {
        throw unimplemented(`${service.typeName}.${method.name}`);
      };
    }
  }
  router.service(service, full as ServiceImpl<S>);
}

// The authenticated caller; every service handler that touches tenant data starts here.
export function requireCaller(ctx: HandlerContext): Caller {
  const caller = ctx.values.get(callerKey);
  if (!caller) throw apiError(Code.Unauthenticated, "API_KEY_MISSING", "this method needs an API key");
  return caller;
}

import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  GetMessageResponseSchema,
  ListMessagesResponseSchema,
  MessagingService,
  SendMessageResponseSchema,
} from "@onerouter/client/gen/onerouter/messaging/v1/messaging_pb";
import { environmentName, requireCaller, requireId, type Idempotency } from "@onerouter/core";
import type { MessagingEngine } from "./engine";
import type { Scope } from "./store";
import { validMessageFilter, validSendMessage } from "./validation";

// MessagingService: checks each request, then hands it to the engine.
// SendMessage runs under the caller's Idempotency-Key.
export function messagingService(engine: MessagingEngine, idempotency: Idempotency): ServiceImpl<typeof MessagingService> {
  const { withIdempotency } = idempotency;
  return {
    async sendMessage(req, ctx) {
      const scope = callerScope(ctx);
      const input = validSendMessage(req);
      return withIdempotency(ctx, MessagingService.method.sendMessage, req, async (claim) =>
        create(SendMessageResponseSchema, { message: await engine.sendMessage(scope, input, claim) }),
      );
    },

    async getMessage(req, ctx) {
      const scope = callerScope(ctx);
      return create(GetMessageResponseSchema, { message: await engine.getMessage(scope, requireId("id", req.id)) });
    },

    async listMessages(req, ctx) {
      const scope = callerScope(ctx);
      const filter = validMessageFilter(req);
      return create(ListMessagesResponseSchema, await engine.listMessages(scope, filter, req));
    },
  };
}

function callerScope(ctx: HandlerContext): Scope {
  const caller = requireCaller(ctx);
  return { tenantId: caller.tenantId, environment: environmentName(caller.environment), ...(caller.apiKeyId && { apiKeyId: caller.apiKeyId }) };
}

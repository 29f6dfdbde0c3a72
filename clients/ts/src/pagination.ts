import type { DescMessage, DescMethod, DescService, Message } from "@bufbuild/protobuf";
import type { CallOptions, Client } from "@connectrpc/connect";

/** The messages a List response carries: the element type of its repeated message field. */
export type ListItem<Res> = {
  [K in keyof Res]-?: Res[K] extends readonly (infer E)[] ? (E extends Message ? E : never) : never;
}[keyof Res];

/**
 * What a List method answers: awaited, its first page (the response, as
 * before); iterated with `for await`, every item of every page, fetching the
 * next page (with the same request and the previous page's
 * next_page_token) only when the items in hand run out.
 */
export type ListCall<Res> = Promise<Res> & AsyncIterable<ListItem<Res>>;

type Listed<F> = F extends (request: infer Req, options?: CallOptions) => Promise<infer Res>
  ? ListItem<Res> extends never
    ? F
    : (request?: Req, options?: CallOptions) => ListCall<Res>
  : F;

/** A service's client whose List methods (`list…`) both answer a page and iterate over all of them. */
export type ListingClient<S extends DescService> = {
  [K in keyof Client<S>]: K extends `list${string}` ? Listed<Client<S>[K]> : Client<S>[K];
};

type UnaryCall = (request: Record<string, unknown> | undefined, options?: CallOptions) => Promise<Record<string, unknown>>;

// The repeated message field of a List method's response, if it has exactly one.
function itemsField(output: DescMessage): string | undefined {
  const lists = output.fields.filter((f) => f.fieldKind === "list" && f.listKind === "message");
  return lists.length === 1 ? lists[0]!.localName : undefined;
}

function isListMethod(method: DescMethod): boolean {
  return method.methodKind === "unary" && method.name.startsWith("List") && itemsField(method.output) !== undefined;
}

/** Makes every List method of `client` a ListCall. */
export function withListing<S extends DescService>(service: S, client: Client<S>): ListingClient<S> {
  const listing: Record<string, unknown> = { ...client };
  for (const method of service.methods) {
    if (!isListMethod(method)) continue;
    const call = (client as unknown as Record<string, UnaryCall>)[method.localName]!;
    const field = itemsField(method.output)!;
    const paged = method.input.fields.some((f) => f.localName === "pageToken");
    listing[method.localName] = (request: Record<string, unknown> = {}, options?: CallOptions) =>
      listCall(call, request, options, field, paged);
  }
  return listing as ListingClient<S>;
}

function listCall(
  call: UnaryCall,
  request: Record<string, unknown>,
  options: CallOptions | undefined,
  field: string,
  paged: boolean,
): ListCall<Record<string, unknown>> {
  // The first page is asked for when awaited, once, and never when only iterated.
  let firstPage: Promise<Record<string, unknown>> | undefined;
  const page = () => (firstPage ??= call(request, options));
  return {
    then: (onFulfilled, onRejected) => page().then(onFulfilled, onRejected),
    catch: (onRejected) => page().catch(onRejected),
    finally: (onFinally) => page().finally(onFinally),
    [Symbol.toStringTag]: "ListCall",
    async *[Symbol.asyncIterator]() {
      let pageToken = paged ? ((request.pageToken as string | undefined) ?? "") : undefined;
      do {
        const res = await call(paged ? { ...request, pageToken } : request, options);
        yield* res[field] as never[];
        pageToken = paged ? (res.nextPageToken as string) : "";
      } while (pageToken);
    },
  } as ListCall<Record<string, unknown>>;
}

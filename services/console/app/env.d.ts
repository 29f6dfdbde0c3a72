/// <reference types="vite/client" />

declare module "virtual:api-reference" {
  const reference: import("../build/api-reference").ApiFile[];
  export default reference;
}

// A command given wrongly: the CLI prints the message and that command's usage.
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

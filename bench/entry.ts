// How every benchmark process ends: the main run exits 0 when done, and any
// process (main or child) that fails prints what failed with its stack and exits 1.

export const fail =
  (what: string) =>
  (e: unknown): never => {
    process.stderr.write(`${what} failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  };

export function runMain(main: () => Promise<void>): void {
  main().then(() => process.exit(0), fail('bench'));
}

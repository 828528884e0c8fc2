// SIGINT/SIGTERM end a real process cleanly: actors stop (files synced), links
// close, then the process exits. A second signal while shutting down exits at once.

export interface ShutdownTarget {
  shutdown(): Promise<void>;
}

export interface ShutdownOptions {
  /** Exit the process once shut down (default true). */
  exit?: boolean;
  /** Called with a one-line notice. */
  onSignal?: (signal: NodeJS.Signals) => void;
}

/** Returns a function that removes the handlers again. */
export function installShutdownHandlers(host: ShutdownTarget, opts: ShutdownOptions = {}): () => void {
  let shuttingDown = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      process.exit(130);
    }
    shuttingDown = true;
    opts.onSignal?.(signal);
    host.shutdown().then(
      () => {
        if (opts.exit !== false) process.exit(0);
      },
      (e: unknown) => {
        process.stderr.write(`shutdown failed: ${(e as Error).message}\n`);
        if (opts.exit !== false) process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

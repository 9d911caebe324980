/**
 * Resolves on the first SIGINT or SIGTERM. Call it before starting anything: whoever stops the process
 * (`amber down`, Ctrl-C, a supervisor) may signal as soon as it sees a pid file or a socket, and a signal
 * with no listener yet ends the process at once, leaving a pooled QEMU and network namespaces behind.
 */
export function stopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

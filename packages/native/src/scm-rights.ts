// File descriptors over unix sockets. libuv reads sockets with plain read(), dropping SCM_RIGHTS, so a
// connection that carries an fd is accepted and read natively (acceptWithFds, off the event loop);
// after that it can be handed to net.Socket for plain bytes.
import { binding } from './binding.js';

export interface Received {
  /** Payload bytes (empty at EOF). */
  data: Buffer;
  /** Descriptors that arrived with it, already close-on-exec; the caller owns them. */
  fds: number[];
  /** The kernel cut payload or descriptors short (buffer too small). */
  truncated: boolean;
}

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

export interface Accepted extends Received, PeerCred {
  /** The accepted connection (blocking, close-on-exec); the caller owns it. */
  fd: number;
}

export interface AcceptOptions {
  timeoutMs: number;
  /** An eventfd (eventfdCreate) whose signal aborts the wait with code ECANCELED. */
  cancelFd?: number;
  maxBytes?: number;
  maxFds?: number;
}

/** A connected pair of unix stream sockets. */
export function socketPair(): [number, number] {
  return binding.socketPair();
}

/** A non-blocking listening unix socket bound at `path` (remove a stale file first). */
export function listenUnix(path: string, backlog = 8): number {
  return binding.listenUnix(path, backlog);
}

/** A blocking connection to the unix socket at `path`. */
export function connectUnix(path: string): number {
  return binding.connectUnix(path);
}

/** One sendmsg of `data` with `fds` attached (SCM_RIGHTS). Returns bytes sent. */
export function sendWithFds(fd: number, data: Uint8Array, fds: number[] = []): number {
  return binding.sendWithFds(fd, data, fds);
}

/** One non-blocking recvmsg; throws code EAGAIN when nothing is queued. */
export function recvWithFds(fd: number, maxBytes = 65536, maxFds = 16): Received {
  return binding.recvWithFds(fd, maxBytes, maxFds);
}

/**
 * Waits (on a worker thread) for one connection on `listenFd` and its first message with any fds.
 * Rejects with code ETIMEDOUT after `timeoutMs`, ECANCELED when `cancelFd` is signalled.
 */
export function acceptWithFds(listenFd: number, opts: AcceptOptions): Promise<Accepted> {
  return binding.acceptWithFds(listenFd, opts.timeoutMs, opts.cancelFd ?? -1, opts.maxBytes, opts.maxFds);
}

/** SO_PEERCRED: who is on the other end of a unix socket. */
export function peerCred(fd: number): PeerCred {
  return binding.peerCred(fd);
}

/** A non-blocking close-on-exec eventfd, e.g. to cancel acceptWithFds. */
export function eventfdCreate(): number {
  return binding.eventfdCreate();
}

export function eventfdSignal(fd: number): void {
  binding.eventfdSignal(fd);
}

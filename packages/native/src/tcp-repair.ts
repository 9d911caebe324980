import { Socket } from 'node:net';
import { binding } from './binding.js';
import type { TcpConnectionState } from './tcp-connection-state.js';

function socketFd(socket: Socket): number {
  // Node keeps a TCP socket's descriptor on its libuv handle; there is no public accessor.
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new TypeError('the socket has no open descriptor');
  return fd;
}

/**
 * Reads the state of `socket`'s connection and leaves it in repair mode, so destroying it afterwards sends
 * nothing: the peer keeps its end. Throws (`EBUSY`) if bytes are still queued either way.
 */
export function saveTcpConnection(socket: Socket): TcpConnectionState {
  return binding.tcpRepairSave(socketFd(socket));
}

/** A connected socket in the namespace at `nsPath` that carries a saved connection on, no handshake. */
export function restoreTcpConnection(nsPath: string, state: TcpConnectionState): Socket {
  const fd = binding.tcpRepairRestore(nsPath, state);
  return new Socket({ fd, readable: true, writable: true });
}

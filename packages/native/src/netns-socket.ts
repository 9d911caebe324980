import { Socket } from 'node:net';
import { binding } from './binding.js';

/**
 * Connects a TCP socket from inside the network namespace at `nsPath` (for example /run/netns/<name>).
 * Only the socket's creation happens in the namespace; connecting and I/O use Node's event loop.
 */
export function connectInNetns(nsPath: string, host: string, port: number): Socket {
  const fd = binding.socketInNetns(nsPath, host.includes(':') ? 6 : 4);
  const socket = new Socket({ fd, readable: true, writable: true });
  return socket.connect({ host, port });
}

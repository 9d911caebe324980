// The browser-safe entry: fetch and WebSocket only, no Node modules (node.ts adds the Node defaults).
export { ApiKeys } from './api-keys.js';
export type { WriteData } from './body.js';
export { DEFAULT_URL } from './connection.js';
export { AmberError } from './errors.js';
export { type ExecOutput, ExecStream } from './exec-stream.js';
export { SandboxFiles } from './files.js';
export { formatBytes } from './format-bytes.js';
export { health } from './health.js';
export { Host } from './host.js';
export type {
  ConnectionOptions,
  CreateSandboxOptions,
  ExecOptions,
  ExecStreamOptions,
  ListSandboxesOptions,
} from './options.js';
export { type Command, Sandbox } from './sandbox.js';
export { Snapshot } from './snapshot.js';
export type * from './types.js';
export type { WebSocketConstructor, WebSocketLike } from './web-socket.js';

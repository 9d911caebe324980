import { AmberError } from './errors.js';
import type { ConnectionOptions } from './options.js';
import { platform } from './platform.js';
import type { WebSocketConstructor, WebSocketLike } from './web-socket.js';

export const DEFAULT_URL = 'http://127.0.0.1:4280';

/** Options resolved against the environment once, then shared by a Sandbox and its files. */
export interface Connection {
  url: string;
  apiKey: string | undefined;
  fetch: typeof fetch;
  /** Opens a WebSocket to a path under the API's URL. */
  openWebSocket(path: string): WebSocketLike;
}

function env(name: string): string | undefined {
  // Browsers have no `process`; bundlers that define it only ever substitute the whole expression.
  const value = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[
    name
  ];
  return value === '' ? undefined : value;
}

/** The local key file is only ever sent to this machine: a remote URL never gets it. */
export function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function queryKeyOpener(Ctor: WebSocketConstructor) {
  // A WHATWG WebSocket cannot carry headers, so the key goes in the query, which the API accepts there.
  return (url: string, apiKey: string | undefined): WebSocketLike => {
    const u = new URL(url);
    if (apiKey) u.searchParams.set('apiKey', apiKey);
    return new Ctor(u.toString());
  };
}

export async function resolveConnection(opts: ConnectionOptions = {}): Promise<Connection> {
  const raw = opts.url ?? env('AMBER_URL') ?? (await platform.localUrl?.()) ?? DEFAULT_URL;
  let url: string;
  try {
    url = new URL(raw).toString().replace(/\/+$/, '');
  } catch (err) {
    throw new AmberError('invalid_argument', 0, `not a URL: ${raw}`, { cause: err });
  }
  const apiKey =
    opts.apiKey ?? env('AMBER_API_KEY') ?? (isLoopback(url) ? await platform.localApiKey?.() : undefined);
  const fetchImpl = opts.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function')
    throw new AmberError('unsupported', 0, 'no fetch implementation: pass { fetch } to the SDK');
  const globalWs = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  const opener = opts.WebSocket
    ? queryKeyOpener(opts.WebSocket)
    : (platform.openWebSocket ?? (globalWs ? queryKeyOpener(globalWs) : undefined));
  return {
    url,
    apiKey,
    // Called unbound: some fetch implementations throw when `this` is not the global object.
    fetch: (input, init) => fetchImpl(input, init),
    openWebSocket(path) {
      if (!opener)
        throw new AmberError('unsupported', 0, 'no WebSocket implementation: pass { WebSocket } to the SDK');
      return opener(`${url.replace(/^http/, 'ws')}${path}`, apiKey);
    },
  };
}

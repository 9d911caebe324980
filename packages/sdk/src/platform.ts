// Hooks the Node entry fills in (node.ts): a key file, a URL file and the `ws` package. The browser entry
// leaves them empty, so nothing Node-only is ever imported there.
import type { WebSocketOpener } from './web-socket.js';

export interface Platform {
  /** The URL of a local instance (`$AMBER_HOME/url`, written by `amber up`). */
  localUrl?: () => Promise<string | undefined>;
  /** The key of a local instance (`$AMBER_HOME/api-key`). */
  localApiKey?: () => Promise<string | undefined>;
  openWebSocket?: WebSocketOpener;
}

export const platform: Platform = {};

export function setPlatform(p: Platform): void {
  Object.assign(platform, p);
}

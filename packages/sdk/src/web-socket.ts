// The part of the WHATWG WebSocket the SDK uses. Browsers' WebSocket and the `ws` package both fit it, so
// neither type leaks into the public API (the browser entry must not depend on `ws`'s types).

export interface WebSocketMessage {
  data: unknown;
}

export interface WebSocketClose {
  code: number;
  reason: string;
}

export interface WebSocketLike {
  readonly readyState: number;
  readonly bufferedAmount: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: WebSocketMessage) => void) | null;
  onclose: ((ev: WebSocketClose) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Opens a WebSocket to an absolute ws(s):// URL, authenticating with the key if there is one. */
export type WebSocketOpener = (url: string, apiKey: string | undefined) => WebSocketLike;

export const WS_OPEN = 1;

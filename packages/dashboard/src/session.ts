// The API key lives in sessionStorage: it goes when the tab closes, and no other tab or site sees it.
import type { ConnectionOptions } from '@amber/sdk';

const KEY = 'amber.apiKey';

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY);
}

/** The API is the origin that served the page. */
export function connection(apiKey: string): ConnectionOptions {
  return { url: location.origin, apiKey };
}

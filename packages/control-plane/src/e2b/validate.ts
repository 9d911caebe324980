import { ALL_TRAFFIC } from '@amber/host-agent';
import { ApiError } from '../errors.js';
import { checkNetworkRules } from '../services/network-rules.js';
import type { NetworkRules } from '../services/sandbox-view.js';
import { E2bError, unsupported } from './e2b-error.js';

/** Small checks for E2B's request bodies, each failing with E2B's 400 and a message naming the field. */
export type Body = Record<string, unknown>;

export function bodyOf(value: unknown): Body {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw new E2bError(400, 'the body must be a JSON object');
  return value as Body;
}

export function optInt(body: Body, key: string, min: number, max: number): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new E2bError(400, `${key} must be an integer from ${min} to ${max}`);
  return value;
}

export function optBool(body: Body, key: string): boolean | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new E2bError(400, `${key} must be a boolean`);
  return value;
}

export function optString(body: Body, key: string, max = 256): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > max)
    throw new E2bError(400, `${key} must be a string of 1 to ${max} characters`);
  return value;
}

export function optStringMap(body: Body, key: string): Record<string, string> | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value))
    throw new E2bError(400, `${key} must be an object of strings`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new E2bError(400, `${key}.${k} must be a string`);
  }
  return value as Record<string, string>;
}

const isEmpty = (value: unknown) =>
  value === undefined ||
  value === null ||
  (Array.isArray(value) && value.length === 0) ||
  (typeof value === 'object' && !Array.isArray(value) && Object.keys(value as object).length === 0);

/**
 * E2B's `network` and `allow_internet_access` as Amber's outbound rules: allowOut/denyOut by IPv4 address
 * or CIDR (allowOut wins), and no internet access as a denyOut of everything that allowOut can still open,
 * as E2B does. Whatever else (domains, ports, rules, a proxy, ...) is refused by name, never dropped.
 */
export function checkNetwork(network: unknown, allowInternetAccess: unknown): NetworkRules | null {
  if (
    allowInternetAccess !== undefined &&
    allowInternetAccess !== null &&
    typeof allowInternetAccess !== 'boolean'
  )
    throw new E2bError(400, 'allow_internet_access must be a boolean');
  const body = isEmpty(network) ? {} : network;
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new E2bError(400, 'network must be an object');
  for (const [key, value] of Object.entries(body as Body)) {
    if (key === 'allowOut' || key === 'denyOut') continue;
    if (key === 'allowPublicTraffic' && value !== false) continue;
    if (isEmpty(value)) continue;
    throw unsupported(`network.${key}`);
  }
  const { allowOut, denyOut } = body as Body;
  try {
    return checkNetworkRules({
      allowOut,
      denyOut: allowInternetAccess === false ? [ALL_TRAFFIC] : denyOut,
    });
  } catch (err) {
    // Invalid or beyond Amber (domains, ports, IPv6): E2B's 400 either way, the message says which.
    if (err instanceof ApiError) throw new E2bError(400, err.message, { cause: err });
    throw err;
  }
}

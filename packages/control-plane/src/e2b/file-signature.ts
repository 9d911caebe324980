import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * A pre-signed envd file URL, as the e2b SDK's `uploadUrl()` / `downloadUrl()` build them: `/files?path=…
 * [&username=…]&signature=v1_…[&signature_expiration=<unix s>]`, signed with the sandbox's envd access
 * token, so a browser or curl can move one file without the token.
 */
export interface SignedFile {
  path: string;
  operation: 'read' | 'write';
  /** As signed: the `username` parameter, '' when absent. */
  user: string;
  signature: string;
  expiration?: number;
}

/** E2B's scheme: "v1_" + base64(sha256("<path>:<op>:<user>:<token>[:<expiration>]")), no padding. */
export function fileSignature(file: Omit<SignedFile, 'signature'>, token: string): string {
  const parts = [file.path, file.operation, file.user, token];
  if (file.expiration !== undefined) parts.push(String(file.expiration));
  return `v1_${createHash('sha256').update(parts.join(':')).digest('base64').replace(/=+$/, '')}`;
}

/** The signed request `url` (path and query) makes, or undefined when it carries no signature. */
export function signedFile(url: string, method: string | undefined): SignedFile | undefined {
  const parsed = new URL(url, 'http://envd');
  const signature = parsed.searchParams.get('signature');
  if (!signature || parsed.pathname !== '/files') return undefined;
  const expiration = parsed.searchParams.get('signature_expiration');
  return {
    path: parsed.searchParams.get('path') ?? '',
    operation: method === 'POST' ? 'write' : 'read',
    user: parsed.searchParams.get('username') ?? '',
    signature,
    ...(expiration !== null && { expiration: Number(expiration) }),
  };
}

/** Whether `token` signed `file` and the signature has not expired at `nowSeconds`. */
export function signedWith(file: SignedFile, token: string, nowSeconds = Date.now() / 1000): boolean {
  if (file.expiration !== undefined && !(file.expiration >= nowSeconds)) return false;
  const expected = Buffer.from(fileSignature(file, token));
  const given = Buffer.from(file.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

import { E2bError, unsupported } from './e2b-error.js';

/** Parts of E2B's API Amber does not offer, by path prefix, each with the feature's name. */
const UNSUPPORTED: Array<[RegExp, string]> = [
  [/^\/v\d+\/templates/, 'building templates over the E2B API (use Amber snapshots)'],
  [/^\/templates\/tags/, 'template tags'],
  [/^\/templates\/[^/]+\/(tags|files|builds)/, 'template builds and tags'],
  [/^\/templates\/?$/, 'building or listing templates over the E2B API (use Amber snapshots)'],
  [/^\/templates\/[^/]+\/?$/, 'template management beyond deleting snapshots'],
  [/^\/secrets/, 'secrets'],
  [/^\/volumes/, 'volumes'],
  [/^\/volumecontent/, 'volumes'],
  [/^\/sandboxes\/metrics/, 'metrics of many sandboxes at once'],
  [/^\/teams/, 'teams over the E2B API'],
  [/^\/access-tokens|^\/api-keys/, 'key management over the E2B API (use /v1/api-keys)'],
];

/** The answer for a path under /e2b that no route serves: E2B's 400 for a known feature, else a 404. */
export function unmatched(method: string, path: string): E2bError {
  for (const [pattern, feature] of UNSUPPORTED) if (pattern.test(path)) return unsupported(feature);
  return new E2bError(404, `no E2B route ${method} ${path}`);
}

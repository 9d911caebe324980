import { BASE_TEMPLATE } from '../services/templates.js';
import { E2bError } from './e2b-error.js';
import type { E2bService } from './e2b-service.js';

/**
 * A templateID as E2B spells it — `base`, a snapshot name, or a snapshot ID such as `snap1:default` or
 * `team/snap1:default` (namespace and tag are E2B's; Amber's snapshot names are per team) — as the Amber
 * template name.
 */
export function templateName(templateID: string): string {
  let name = templateID;
  const slash = name.lastIndexOf('/');
  if (slash >= 0) name = name.slice(slash + 1);
  const colon = name.indexOf(':');
  if (colon >= 0) {
    const tag = name.slice(colon + 1);
    if (tag !== 'default' && tag !== 'latest')
      throw new E2bError(400, `template tag '${tag}' is not supported by Amber (only default)`);
    name = name.slice(0, colon);
  }
  return name;
}

/** The Amber template to spawn from; an unknown one is E2B's 404 "template not found". */
export async function resolveTemplate(e2b: E2bService, teamId: string, templateID: string): Promise<string> {
  const name = templateName(templateID);
  if (name === BASE_TEMPLATE) return BASE_TEMPLATE;
  if (!(await e2b.ctx.templates.find(teamId, name)))
    throw new E2bError(404, `template '${templateID}' not found`);
  return name;
}

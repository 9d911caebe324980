import type { GuestBinding } from '@amber/native/guest';
import { loadGuestBinding } from '@amber/native/guest';
import type { UserFiles } from './users.js';

/** What every service of one envd shares: defaults set by /init and where to find the guest's files. */
export class EnvdContext {
  /** Environment added to every process (from /init), under each call's own envs. */
  readonly env: Record<string, string> = {};
  defaultUser: string;
  defaultWorkdir: string | undefined;
  #accessToken: string | undefined;
  readonly userFiles: UserFiles;
  #addonPath: string;

  constructor(options: { defaultUser: string; addonPath: string; userFiles: UserFiles }) {
    this.defaultUser = options.defaultUser;
    this.userFiles = options.userFiles;
    this.#addonPath = options.addonPath;
  }

  /** Once /init sets it, every call but /health must carry it in X-Access-Token (a control `sync` too). */
  get accessToken(): string | undefined {
    return this.#accessToken;
  }

  set accessToken(token: string | undefined) {
    this.#accessToken = token;
    this.native().setControlToken(token);
  }

  /** The native addon: in the guest loaded at start (it sets the clock); on the host on first use. */
  native(): GuestBinding {
    return loadGuestBinding(this.#addonPath);
  }
}

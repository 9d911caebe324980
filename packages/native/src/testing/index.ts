export { rng } from './rng.js';
export {
  type HelperExit,
  PAGE_SIZE,
  pageHash,
  UffdHelperProcess,
  writePattern,
} from './uffd-helper-process.js';

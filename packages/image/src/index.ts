export { debianMirror } from './apt-mirror.js';
export { type BuildOptions, type BuildResult, ensureImage } from './build.js';
export {
  type CachedImage,
  defaultCacheDir,
  type Image,
  type ImageManifest,
  listImages,
  loadImage,
} from './cache.js';
export { ImageError } from './errors.js';
export { type ImageInputs, imageId, resolveInputs } from './inputs.js';
export { DEFAULT_PACKAGES, type Recipe } from './packages.js';

/** Where one Tutti home keeps its parts; the single place that knows the layout of `--home`. */
import path from 'node:path';

export interface HomeOptions {
  /** Directory for the embedded database, assets and caches. Default ./.tutti */
  home?: string;
  /** libSQL URL or file path; default `<home>/tutti.db`. */
  db?: string;
  /** Transpiled components, keyed by content digest, so safe to share between homes. */
  cacheDir?: string;
}

export function homeDir(opts: HomeOptions): string {
  return path.resolve(opts.home ?? '.tutti');
}

export function databaseUrl(opts: HomeOptions): string {
  return opts.db ?? path.join(homeDir(opts), 'tutti.db');
}

export function componentCacheDir(opts: HomeOptions): string {
  return opts.cacheDir ?? process.env.TUTTI_CACHE_DIR ?? path.join(homeDir(opts), 'cache', 'components');
}

/**
 * The asset store could not keep bytes it was given (full, read-only, gone): the server's trouble,
 * never the client's. The cause keeps the path for the log; the message a client sees does not.
 */
export class StorageError extends Error {
  readonly code: string;
  constructor(cause: NodeJS.ErrnoException) {
    super(`the asset store cannot be written (${cause.code ?? 'error'})`, { cause });
    this.name = 'StorageError';
    this.code = cause.code ?? 'EIO';
  }
}

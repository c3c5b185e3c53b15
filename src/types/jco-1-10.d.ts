// jco 1.10 ships JavaScript without declarations for its package entry; these are the two calls Tutti makes.
declare module 'jco-1-10' {
  export function transpile(
    component: Uint8Array,
    opts?: Record<string, unknown>,
  ): Promise<{ files: Record<string, Uint8Array>; imports: string[]; exports: [string, string][] }>;
  export function componentWit(component: Uint8Array): Promise<string>;
}

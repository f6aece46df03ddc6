/** Where the CLI writes; tests capture it. */
export interface Io {
  out(s: string): void;
  err(s: string): void;
}

// The web APIs componentize-js (StarlingMonkey) provides that this task uses; lib "DOM" would also
// declare many it does not.
declare class TextEncoder {
  encode(text: string): Uint8Array;
}
declare class TextDecoder {
  decode(bytes?: Uint8Array, options?: { stream?: boolean }): string;
}

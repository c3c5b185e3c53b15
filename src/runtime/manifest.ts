/**
 * The scaling manifest a component carries in a custom section, for tasks without a `plan` export:
 * `{"split":"lines","per":"16MiB","max":256}` = one instance per 16 MiB of input, records kept
 * whole, at most 256 instances.
 */
import { z } from 'zod';
import { parseSize } from '../flow/units.js';
import { concat, leb, readLeb, sections } from './wasm-binary.js';

export const MANIFEST_SECTION = 'tutti-scaling';

export const ScalingManifestSchema = z
  .object({
    split: z.enum(['bytes', 'lines']).describe('bytes: exact ranges; lines: ranges end at a newline, so no record is cut'),
    per: z
      .union([z.string(), z.number()])
      .transform((v, ctx) => {
        const n = parseSize(v);
        if (n === null || n < 1) {
          ctx.addIssue({ code: 'custom', message: `bad size ${JSON.stringify(v)}: use bytes or a number with KiB, MiB or GiB` });
          return z.NEVER;
        }
        return n;
      })
      .describe('Input bytes per instance'),
    max: z.number().int().min(1).max(1_000_000).default(1024).describe('Most instances, whatever the input size'),
  })
  .strict();

export type ScalingManifest = z.output<typeof ScalingManifestSchema>;

function customName(bytes: Uint8Array, payload: number): [string, number] {
  const [len, p] = readLeb(bytes, payload);
  return [new TextDecoder().decode(bytes.subarray(p, p + len)), p + len];
}

/** The raw manifest text, or null when the component carries none. */
export function readManifestText(bytes: Uint8Array): string | null {
  for (const s of sections(bytes)) {
    if (s.id !== 0) continue;
    const [name, data] = customName(bytes, s.payload);
    if (name === MANIFEST_SECTION) return new TextDecoder().decode(bytes.subarray(data, s.end));
  }
  return null;
}

/** The manifest, validated; throws with the problem when the section is malformed. */
export function readManifest(bytes: Uint8Array): ScalingManifest | null {
  const text = readManifestText(bytes);
  if (text === null) return null;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`the ${MANIFEST_SECTION} section is not JSON: ${text.slice(0, 80)}`);
  }
  const parsed = ScalingManifestSchema.safeParse(json);
  if (!parsed.success) throw new Error(`invalid scaling manifest: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'manifest'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** The component with `manifest` as its only scaling section (any previous one is replaced). */
export function embedManifest(bytes: Uint8Array, manifest: unknown): Uint8Array {
  const text = JSON.stringify(manifest);
  ScalingManifestSchema.parse(manifest);
  const kept: Uint8Array[] = [bytes.subarray(0, 8)];
  for (const s of sections(bytes)) {
    if (s.id === 0 && customName(bytes, s.payload)[0] === MANIFEST_SECTION) continue;
    kept.push(bytes.subarray(s.start, s.end));
  }
  const name = new TextEncoder().encode(MANIFEST_SECTION);
  const data = new TextEncoder().encode(text);
  const payload = [...leb(name.length), ...name, ...data];
  kept.push(Uint8Array.from([0, ...leb(payload.length), ...payload]));
  return concat(kept);
}

/** How a manifest reads to a person: "lines, 16 MiB per instance, at most 256". */
export function describeManifest(m: ScalingManifest): string {
  const per = m.per % 2 ** 20 === 0 ? `${m.per / 2 ** 20} MiB` : m.per % 1024 === 0 ? `${m.per / 1024} KiB` : `${m.per} B`;
  return `split ${m.split}, ${per} per instance, at most ${m.max}`;
}

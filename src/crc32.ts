/**
 * CRC-32 as zlib computes it (IEEE 802.3 polynomial, reflected, initial and final XOR
 * 0xFFFFFFFF). Node 20 has no `zlib.crc32`, and the key checksum must match what other
 * languages compute with their zlib bindings.
 */
const TABLE = buildTable();

// Signed 32-bit entries and a signed running value: the bits are the same, and V8 keeps every
// step in integer registers (an unsigned value above 2^31 would be a float).
function buildTable(): Int32Array {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let bit = 0; bit < 8; bit++) {
      c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    table[n] = c;
  }
  return table;
}

/** A running CRC-32 before its first byte (all bits set). */
export const CRC32_START = -1;

/**
 * Feeds one byte into a running CRC-32, for callers that checksum while they scan.
 *
 * @param crc - the running value: {@link CRC32_START}, then what the last step returned.
 * @param byte - 0 to 255.
 */
export function crc32Step(crc: number, byte: number): number {
  return TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
}

/** The checksum, as an unsigned 32-bit integer, of a running CRC-32 that has had every byte. */
export function crc32Final(crc: number): number {
  return ~crc >>> 0;
}

/**
 * CRC-32 of an ASCII string (each character's code unit is taken as one byte).
 *
 * @param ascii - a string whose characters are all below U+0080.
 * @returns the checksum as an unsigned 32-bit integer.
 */
export function crc32Ascii(ascii: string): number {
  let crc = CRC32_START;
  for (let i = 0; i < ascii.length; i++) crc = crc32Step(crc, ascii.charCodeAt(i));
  return crc32Final(crc);
}

/**
 * CRC-32 as zlib computes it (IEEE 802.3 polynomial, reflected, initial and final XOR
 * 0xFFFFFFFF). Node 20 has no `zlib.crc32`, and the key checksum must match what other
 * languages compute with their zlib bindings.
 */
const TABLE = buildTable();

function buildTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let bit = 0; bit < 8; bit++) {
      c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    table[n] = c >>> 0;
  }
  return table;
}

/**
 * CRC-32 of an ASCII string, or of its first `length` characters (each character's code unit
 * is taken as one byte).
 *
 * @param ascii - a string whose characters are all below U+0080.
 * @param length - how many characters from the start are checksummed (all by default).
 * @returns the checksum as an unsigned 32-bit integer.
 */
export function crc32Ascii(ascii: string, length = ascii.length): number {
  let crc = 0xffffffff;
  for (let i = 0; i < length; i++) {
    crc = TABLE[(crc ^ ascii.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

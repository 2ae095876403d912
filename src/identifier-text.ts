/**
 * Characters an identifier a person reads (an account id, a key id, a Basic-auth username)
 * must not hold: control characters (C0, DEL, C1; PostgreSQL refuses NUL); lone surrogates
 * (`\p{Cs}` with the u flag matches only unpaired ones, the test of
 * `String.prototype.isWellFormed`; PostgreSQL would store each as U+FFFD); format and other
 * default-ignorable characters that render as nothing (a zero-width space, a bidirectional
 * override, the combining grapheme joiner, a Hangul filler, a variation selector) or as a
 * blank though they are no whitespace (the Braille pattern blank U+2800, the Khitan small
 * script filler U+16FE4 and the musical null notehead U+1D159, known invisible fillers;
 * private-use characters are left alone, as some fonts draw them); noncharacters (U+FFFE,
 * U+FFFF and the rest Unicode keeps for a program's internal use); and line or paragraph
 * separators. They would make two identifiers that look the same differ, or break the log
 * lines and forms that show one.
 */
export const UNSAFE_IDENTIFIER_TEXT = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\p{Noncharacter_Code_Point}\u2800\u{16FE4}\u{1D159}]/u;

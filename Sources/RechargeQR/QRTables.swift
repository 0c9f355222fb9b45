/// The fixed numbers of ISO/IEC 18004:2015 that the encoder needs: error-correction blocks (Table 9), alignment
/// pattern centres (Annex E), the format information's BCH(15,5) code (7.9) and the version information's BCH(18,6)
/// code (7.10). Everything here is computed once and is immutable.
enum QRTables {
    /// Error-correction codewords per block, per level (L, M, Q, H in `QRErrorCorrection.index` order) and version
    /// (index 0 unused). ISO/IEC 18004 Table 9.
    static let eccCodewordsPerBlock: [[Int]] = [
        [0, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28, 28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
        [0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28],
        [0, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30, 28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
        [0, 17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28, 30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
    ]

    /// Error-correction blocks per level and version (index 0 unused). ISO/IEC 18004 Table 9.
    static let blockCount: [[Int]] = [
        [0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25],
        [0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49],
        [0, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20, 23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68],
        [0, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25, 25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81],
    ]

    /// Modules left for codewords (and remainder bits) once the function patterns, format and version information
    /// are drawn: the whole symbol less finders with separators, timing, alignment patterns, format areas, the dark
    /// module and (version 7 and up) the two version areas.
    static func rawDataModules(version: Int) -> Int {
        var result = (16 * version + 128) * version + 64
        if version >= 2 {
            let alignments = version / 7 + 2
            result -= (25 * alignments - 10) * alignments - 55
            if version >= 7 { result -= 36 }
        }
        return result
    }

    /// Codewords of the symbol (data and error correction), ISO/IEC 18004 Table 1.
    static func totalCodewords(version: Int) -> Int { rawDataModules(version: version) / 8 }

    /// Data codewords of a version at a level, ISO/IEC 18004 Table 7.
    static func dataCodewords(version: Int, level: Int) -> Int {
        totalCodewords(version: version) - eccCodewordsPerBlock[level][version] * blockCount[level][version]
    }

    /// Bits of the byte-mode character count indicator (Table 3): 8 up to version 9, 16 from version 10.
    static func countBits(version: Int) -> Int { version < 10 ? 8 : 16 }

    /// Bytes a byte-mode segment can carry: data codewords less the 4-bit mode and the count indicator.
    static func byteCapacity(version: Int, level: Int) -> Int {
        (dataCodewords(version: version, level: level) * 8 - 4 - countBits(version: version)) / 8
    }

    /// Row/column coordinates of the alignment pattern centres (Annex E, Table E.1): 6, then evenly spaced from the
    /// far side inwards with an even step (version 32's step of 26 is the standard's one exception to the formula).
    static func alignmentPositions(version: Int) -> [Int] {
        guard version >= 2 else { return [] }
        let count = version / 7 + 2
        let step = version == 32 ? 26 : (version * 4 + count * 2 + 1) / (count * 2 - 2) * 2
        var positions = [Int](repeating: 6, count: count)
        var position = version * 4 + 10
        for index in stride(from: count - 1, through: 1, by: -1) {
            positions[index] = position
            position -= step
        }
        return positions
    }

    /// Two bits per level in the format information (7.9.1): L 01, M 00, Q 11, H 10.
    static let formatLevelBits: [Int] = [1, 0, 3, 2]

    /// The 15-bit format information for a level and mask: 5 data bits, 10 BCH(15,5) check bits (generator
    /// 0x537), XORed with 0x5412 so no format word is all zero (7.9.1, Table C.1).
    static func formatBits(level: Int, mask: Int) -> Int {
        let data = formatLevelBits[level] << 3 | mask
        var remainder = data
        for _ in 0..<10 { remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537) }
        return (data << 10 | remainder) ^ 0x5412
    }

    /// The 18-bit version information (versions 7 and up): 6 data bits, 12 BCH(18,6) check bits (generator 0x1F25),
    /// not masked (7.10, Table D.1).
    static func versionBits(version: Int) -> Int {
        var remainder = version
        for _ in 0..<12 { remainder = (remainder << 1) ^ ((remainder >> 11) * 0x1F25) }
        return version << 12 | remainder
    }
}

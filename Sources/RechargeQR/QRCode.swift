/// The four error-correction levels of ISO/IEC 18004 (7.5.1): about 7 %, 15 %, 25 % and 30 % of the codewords can be
/// restored.
public enum QRErrorCorrection: String, Sendable, CaseIterable {
    case low = "L", medium = "M", quartile = "Q", high = "H"

    /// Row of the level in ``QRTables``.
    var index: Int {
        switch self {
        case .low: return 0
        case .medium: return 1
        case .quartile: return 2
        case .high: return 3
        }
    }
}

/// Why a symbol cannot be made. Each case has a stable ``code``.
public enum QRError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The payload needs more bytes than version 40 holds at the level (``QRCode/capacity(version:correction:)``).
    case payloadTooLong(bytes: Int, maximum: Int)
    /// A minimum version outside 1 ... 40.
    case versionOutOfRange(Int)
    /// A mask outside 0 ... 7.
    case maskOutOfRange(Int)

    public var code: String {
        switch self {
        case .payloadTooLong: return "qr-payload-too-long"
        case .versionOutOfRange: return "qr-version-out-of-range"
        case .maskOutOfRange: return "qr-mask-out-of-range"
        }
    }

    public var description: String {
        switch self {
        case let .payloadTooLong(bytes, maximum): return "the payload is \(bytes) bytes; a QR code holds at most \(maximum) at this level"
        case let .versionOutOfRange(version): return "QR code version \(version) is not 1 ... 40"
        case let .maskOutOfRange(mask): return "QR code mask \(mask) is not 0 ... 7"
        }
    }
}

/// A QR Code symbol (ISO/IEC 18004:2015, model 2) carrying one byte-mode segment, without ECI: the bytes are
/// whatever the caller gives (``init(text:correction:minimumVersion:)`` uses UTF-8, which is what phones' wallet
/// and camera apps assume for byte mode when no ECI says otherwise).
///
/// The encoder takes the smallest version (at least `minimumVersion`) whose capacity holds the payload, splits the
/// data codewords into the version's blocks, adds Reed–Solomon codewords to each, interleaves them, places them
/// around the function patterns, applies each of the eight masks and keeps the one with the lowest penalty
/// (``QRPenalty``; the first on a tie), then draws the format and version information.
public struct QRCode: Sendable, Equatable {
    public let version: Int
    public let correction: QRErrorCorrection
    public let mask: Int
    /// Row y is `stride` words at `rows[y * stride]`, bit x of the row = module x, dark = 1.
    let rows: [UInt64]
    let stride: Int

    public var size: Int { 17 + 4 * version }

    public init(bytes: [UInt8], correction: QRErrorCorrection = .medium, minimumVersion: Int = 1) throws(QRError) {
        try self.init(bytes: bytes, correction: correction, minimumVersion: minimumVersion, mask: nil)
    }

    /// The text's UTF-8 bytes.
    public init(text: String, correction: QRErrorCorrection = .medium, minimumVersion: Int = 1) throws(QRError) {
        try self.init(bytes: Array(text.utf8), correction: correction, minimumVersion: minimumVersion, mask: nil)
    }

    /// As ``init(bytes:correction:minimumVersion:)``, with the mask given (0 ... 7) instead of chosen by penalty when
    /// `mask` is not nil: for comparing with other encoders, and for tests.
    public init(bytes: [UInt8], correction: QRErrorCorrection = .medium, minimumVersion: Int = 1, mask: Int?) throws(QRError) {
        guard (1...40).contains(minimumVersion) else { throw .versionOutOfRange(minimumVersion) }
        if let mask, !(0...7).contains(mask) { throw .maskOutOfRange(mask) }
        let level = correction.index
        guard let version = (minimumVersion...40).first(where: { QRTables.byteCapacity(version: $0, level: level) >= bytes.count }) else {
            throw .payloadTooLong(bytes: bytes.count, maximum: QRTables.byteCapacity(version: 40, level: level))
        }
        let template = QRTemplate.of(version: version)
        let codewords = Self.codewords(data: Self.dataCodewords(bytes, version: version, level: level), version: version, level: level)

        let size = template.size, stride = template.stride, lineWords = size * stride
        var rows = template.baseRows
        var columns = template.baseColumns
        // Codeword bits, most significant first, into the data modules in placement order; remainder bits stay 0.
        template.dataPositions.withUnsafeBufferPointer { positions in
            rows.withUnsafeMutableBufferPointer { rows in
                columns.withUnsafeMutableBufferPointer { columns in
                    var bit = 0
                    for codeword in codewords {
                        var byte = codeword
                        while byte != 0 {
                            let leading = byte.leadingZeroBitCount
                            let position = Int(positions[bit + leading])
                            let y = position >> 8, x = position & 0xFF
                            rows[y * stride + x >> 6] |= 1 &<< UInt64(x & 63)
                            columns[x * stride + y >> 6] |= 1 &<< UInt64(y & 63)
                            byte &= ~(0x80 >> UInt8(leading))
                        }
                        bit += 8
                    }
                }
            }
        }

        let chosen = mask ?? Self.bestMask(rows: rows, columns: columns, template: template)
        template.maskRows.withUnsafeBufferPointer { masks in
            for index in 0..<lineWords { rows[index] ^= masks[chosen * lineWords + index] }
        }
        func set(_ x: Int, _ y: Int, _ dark: Bool) {
            let word = y * stride + x >> 6, bit = UInt64(1) << UInt64(x & 63)
            if dark { rows[word] |= bit } else { rows[word] &= ~bit }
        }
        // Format information (7.9.1, Figure 25): bit 0 is the least significant; one copy around the top-left finder,
        // the other split under the top-right and beside the bottom-left finder; then the dark module.
        let format = QRTables.formatBits(level: level, mask: chosen)
        for index in 0..<15 {
            let dark = (format >> index) & 1 == 1
            switch index {
            case 0...5: set(8, index, dark)
            case 6: set(8, 7, dark)
            case 7: set(8, 8, dark)
            case 8: set(7, 8, dark)
            default: set(14 - index, 8, dark)
            }
            if index < 8 { set(size - 1 - index, 8, dark) } else { set(8, size - 15 + index, dark) }
        }
        set(8, size - 8, true)
        // Version information (7.10, Figure 27), versions 7 and up: 6 × 3 under the top-right finder and transposed
        // beside the bottom-left finder.
        if version >= 7 {
            let bits = QRTables.versionBits(version: version)
            for index in 0..<18 {
                let dark = (bits >> index) & 1 == 1
                let a = size - 11 + index % 3, b = index / 3
                set(a, b, dark)
                set(b, a, dark)
            }
        }
        self.version = version
        self.correction = correction
        self.mask = chosen
        self.rows = rows
        self.stride = stride
    }

    /// Whether module (x, y) is dark; (0, 0) is the top-left module, outside the symbol is light.
    public func isDark(x: Int, y: Int) -> Bool {
        guard x >= 0, y >= 0, x < size, y < size else { return false }
        return (rows[y * stride + x >> 6] >> UInt64(x & 63)) & 1 == 1
    }

    /// Bytes a byte-mode payload can have in a version (1 ... 40, otherwise 0) at a level: ISO/IEC 18004 Table 7.
    public static func capacity(version: Int, correction: QRErrorCorrection) -> Int {
        guard (1...40).contains(version) else { return 0 }
        return QRTables.byteCapacity(version: version, level: correction.index)
    }

    /// The data codewords (7.4): mode 0100, the count, the bytes, up to four 0 bits of terminator, then 0xEC 0x11 ...
    /// The header is 12 or 20 bits, so every payload byte straddles two codewords: a nibble is carried.
    static func dataCodewords(_ bytes: [UInt8], version: Int, level: Int) -> [UInt8] {
        let capacity = QRTables.dataCodewords(version: version, level: level)
        var result = [UInt8](repeating: 0, count: capacity)
        let count = bytes.count
        var index = 0
        var carry: UInt8
        if QRTables.countBits(version: version) == 8 {
            result[0] = 0x40 | UInt8(count >> 4)
            index = 1
        } else {
            result[0] = 0x40 | UInt8(count >> 12)
            result[1] = UInt8(truncatingIfNeeded: count >> 4)
            index = 2
        }
        carry = UInt8(count & 0xF)
        for byte in bytes {
            result[index] = carry << 4 | byte >> 4
            carry = byte & 0xF
            index += 1
        }
        // The carried nibble and four terminator bits end on a codeword boundary; capacity always leaves room.
        result[index] = carry << 4
        index += 1
        var pad: UInt8 = 0xEC
        while index < capacity {
            result[index] = pad
            pad ^= 0xEC ^ 0x11
            index += 1
        }
        return result
    }

    /// Data and error-correction codewords in transmission order (7.6): the data split into blocks (the short
    /// blocks first, the long ones one codeword longer), Reed–Solomon codewords per block, then both interleaved
    /// column by column.
    static func codewords(data: [UInt8], version: Int, level: Int) -> [UInt8] {
        let blocks = QRTables.blockCount[level][version]
        let ecc = QRTables.eccCodewordsPerBlock[level][version]
        let total = QRTables.totalCodewords(version: version)
        let shortBlocks = blocks - total % blocks
        let shortData = total / blocks - ecc
        var result = [UInt8](repeating: 0, count: total)
        var index = 0
        for column in 0...shortData {
            for block in 0..<blocks where column < shortData || block >= shortBlocks {
                result[index] = data[block * shortData + max(0, block - shortBlocks) + column]
                index += 1
            }
        }
        let dataTotal = index
        var remainder = [UInt8](repeating: 0, count: ecc)
        for block in 0..<blocks {
            let start = block * shortData + max(0, block - shortBlocks)
            let length = shortData + (block < shortBlocks ? 0 : 1)
            QRReedSolomon.remainder(of: data[start..<(start + length)], degree: ecc, into: &remainder)
            for column in 0..<ecc { result[dataTotal + column * blocks + block] = remainder[column] }
        }
        return result
    }

    /// The mask with the lowest penalty (the lowest-numbered on a tie), evaluated on the matrix without format and
    /// version information.
    static func bestMask(rows: [UInt64], columns: [UInt64], template: QRTemplate) -> Int {
        let lineWords = template.size * template.stride
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 2 * lineWords) { scratch in
            let maskedRows = scratch.baseAddress!, maskedColumns = maskedRows + lineWords
            var best = 0, bestScore = Int.max
            rows.withUnsafeBufferPointer { rows in
                columns.withUnsafeBufferPointer { columns in
                    template.maskRows.withUnsafeBufferPointer { maskRows in
                        template.maskColumns.withUnsafeBufferPointer { maskColumns in
                            for mask in 0..<8 {
                                let offset = mask * lineWords
                                for index in 0..<lineWords {
                                    maskedRows[index] = rows[index] ^ maskRows[offset + index]
                                    maskedColumns[index] = columns[index] ^ maskColumns[offset + index]
                                }
                                let score = QRPenalty.score(rows: maskedRows, columns: maskedColumns, size: template.size, stride: template.stride)
                                if score < bestScore {
                                    best = mask
                                    bestScore = score
                                }
                            }
                        }
                    }
                }
            }
            return best
        }
    }
}

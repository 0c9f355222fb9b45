import Foundation
import Testing
@testable import RechargeQR

/// The encoder against the standard's tables and published vectors, and whole symbols against segno, an independent
/// encoder: Fixtures/segno-reference.json is made by `scripts/qr-segno-fixture` (segno from PyPI in .venv-qr; see the
/// script for the one padding rule where segno 1.6.6 departs from ISO/IEC 18004 7.4.10 and is corrected). Decoding
/// by a real reader is scripts/qr-roundtrip's job (zxing-cpp), not these tests'.
@Suite("QRCode: ISO/IEC 18004 byte-mode encoder")
struct QRCodeTests {
    // MARK: Tables

    @Test func capacitiesMatchTheStandardsTable() {
        // ISO/IEC 18004 Table 7, byte mode.
        #expect(QRCode.capacity(version: 1, correction: .low) == 17)
        #expect(QRCode.capacity(version: 1, correction: .medium) == 14)
        #expect(QRCode.capacity(version: 1, correction: .quartile) == 11)
        #expect(QRCode.capacity(version: 1, correction: .high) == 7)
        #expect(QRCode.capacity(version: 6, correction: .medium) == 106)
        #expect(QRCode.capacity(version: 10, correction: .medium) == 213)
        #expect(QRCode.capacity(version: 40, correction: .low) == 2953)
        #expect(QRCode.capacity(version: 40, correction: .medium) == 2331)
        #expect(QRCode.capacity(version: 40, correction: .quartile) == 1663)
        #expect(QRCode.capacity(version: 40, correction: .high) == 1273)
        #expect(QRCode.capacity(version: 0, correction: .low) == 0)
        #expect(QRCode.capacity(version: 41, correction: .low) == 0)
        // Total codewords (Table 1) follow from the module count.
        #expect(QRTables.totalCodewords(version: 1) == 26)
        #expect(QRTables.totalCodewords(version: 7) == 196)
        #expect(QRTables.totalCodewords(version: 40) == 3706)
    }

    @Test func alignmentPositionsMatchAnnexE() {
        #expect(QRTables.alignmentPositions(version: 1) == [])
        #expect(QRTables.alignmentPositions(version: 2) == [6, 18])
        #expect(QRTables.alignmentPositions(version: 7) == [6, 22, 38])
        #expect(QRTables.alignmentPositions(version: 15) == [6, 26, 48, 70])
        #expect(QRTables.alignmentPositions(version: 32) == [6, 34, 60, 86, 112, 138])
        #expect(QRTables.alignmentPositions(version: 36) == [6, 24, 50, 76, 102, 128, 154])
        #expect(QRTables.alignmentPositions(version: 40) == [6, 30, 58, 86, 114, 142, 170])
    }

    @Test func formatInformationMatchesTableC1() {
        // ISO/IEC 18004 Annex C, Table C.1: after masking with 0x5412, rows L, M, Q, H and masks 0 ... 7.
        let expected: [[Int]] = [
            [0x77C4, 0x72F3, 0x7DAA, 0x789D, 0x662F, 0x6318, 0x6C41, 0x6976],
            [0x5412, 0x5125, 0x5E7C, 0x5B4B, 0x45F9, 0x40CE, 0x4F97, 0x4AA0],
            [0x355F, 0x3068, 0x3F31, 0x3A06, 0x24B4, 0x2183, 0x2EDA, 0x2BED],
            [0x1689, 0x13BE, 0x1CE7, 0x19D0, 0x0762, 0x0255, 0x0D0C, 0x083B],
        ]
        for level in 0..<4 {
            #expect((0..<8).map { QRTables.formatBits(level: level, mask: $0) } == expected[level])
        }
    }

    @Test func versionInformationMatchesTableD1() {
        // ISO/IEC 18004 Annex D, Table D.1.
        #expect(QRTables.versionBits(version: 7) == 0x07C94)
        #expect(QRTables.versionBits(version: 8) == 0x085BC)
        #expect(QRTables.versionBits(version: 9) == 0x09A99)
        #expect(QRTables.versionBits(version: 10) == 0x0A4D3)
        #expect(QRTables.versionBits(version: 21) == 0x15683)
        #expect(QRTables.versionBits(version: 40) == 0x28C69)
    }

    // MARK: Reed–Solomon and codewords

    @Test func reedSolomonMatchesThePublishedExamples() {
        // ISO/IEC 18004 Annex I: "01234567", version 1-M (numeric mode), its 16 data and 10 error-correction codewords.
        let annexI: [UInt8] = [0x10, 0x20, 0x0C, 0x56, 0x61, 0x80, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11]
        #expect(QRReedSolomon.remainder(of: annexI[...], degree: 10) == [0xA5, 0x24, 0xD4, 0xC1, 0xED, 0x36, 0xC7, 0x87, 0x2C, 0x55])
        // "HELLO WORLD", version 1-M (alphanumeric mode), the worked example of the thonky.com QR tutorial.
        let hello: [UInt8] = [32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17]
        #expect(QRReedSolomon.remainder(of: hello[...], degree: 10) == [196, 35, 39, 119, 235, 215, 231, 226, 93, 23])
        // The generator of degree 7 (Annex A): α^0 x^7 + α^87 x^6 + α^229 x^5 + α^146 x^4 + α^149 x^3 + α^238 x^2 + α^102 x + α^21.
        let exp = QRReedSolomon.field.exp
        #expect(QRReedSolomon.generator(degree: 7) == [87, 229, 146, 149, 238, 102, 21].map { exp[$0] })
    }

    @Test func dataCodewordsFollowTheByteModeLayout() {
        // "ab" at 1-L: 0100 00000010 01100001 01100010 0000 (four whole codewords), then 0xEC 0x11 … to 19.
        let codewords = QRCode.dataCodewords(Array("ab".utf8), version: 1, level: 0)
        #expect(codewords.count == 19)
        #expect(Array(codewords.prefix(4)) == [0x40, 0x26, 0x16, 0x20])
        #expect(Array(codewords[4...]) == [UInt8](repeating: 0, count: 15).enumerated().map { $0.offset % 2 == 0 ? 0xEC : 0x11 })
        // From version 10 the count has 16 bits.
        let long = QRCode.dataCodewords([0xFF], version: 10, level: 0)
        #expect(Array(long.prefix(4)) == [0x40, 0x00, 0x1F, 0xF0])
    }

    // MARK: Whole symbols against segno

    struct Reference: Decodable {
        struct Case: Decodable {
            let name: String
            let payload_base64: String
            let level: String
            let version: Int
            let mask: Int
            let auto_mask: Bool
            let auto_version: Bool
            let rows: [String]
        }
        let cases: [Case]
    }

    static let reference: Reference = {
        let url = Bundle.module.url(forResource: "Fixtures/segno-reference", withExtension: "json")!
        return try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }()

    static func matrix(_ code: QRCode) -> [String] {
        (0..<code.size).map { y in
            var bits = (0..<code.size).map { code.isDark(x: $0, y: y) ? "1" : "0" }.joined()
            bits += String(repeating: "0", count: (4 - bits.count % 4) % 4)
            var hex = ""
            var index = bits.startIndex
            while index < bits.endIndex {
                let next = bits.index(index, offsetBy: 4)
                hex += String(Int(bits[index..<next], radix: 2)!, radix: 16)
                index = next
            }
            return hex
        }
    }

    @Test(arguments: reference.cases.map(\.name))
    func matrixEqualsSegnoBitForBit(name: String) throws {
        let reference = try #require(Self.reference.cases.first { $0.name == name })
        let payload = try #require(Data(base64Encoded: reference.payload_base64))
        let level = try #require(QRErrorCorrection(rawValue: reference.level))
        let forced = try QRCode(bytes: Array(payload), correction: level, minimumVersion: reference.version, mask: reference.mask)
        #expect(forced.version == reference.version)
        #expect(forced.mask == reference.mask)
        #expect(forced.size == reference.rows.count)
        #expect(Self.matrix(forced) == reference.rows)
        if reference.auto_mask {
            // The same penalty rules choose the same mask.
            let chosen = try QRCode(bytes: Array(payload), correction: level, minimumVersion: reference.auto_version ? 1 : reference.version)
            #expect(chosen == forced)
        }
        if reference.auto_version {
            #expect(try QRCode(bytes: Array(payload), correction: level).version == reference.version)
        }
    }

    // MARK: API behaviour

    @Test func textIsEncodedAsUTF8() throws {
        let text = "充值 LPA:1$smdp.example.com$X"
        #expect(try QRCode(text: text, correction: .quartile) == QRCode(bytes: Array(text.utf8), correction: .quartile))
    }

    @Test func picksTheSmallestVersionThatFitsAndHonoursTheMinimum() throws {
        #expect(try QRCode(bytes: [UInt8](repeating: 0x41, count: 14)).version == 1)
        #expect(try QRCode(bytes: [UInt8](repeating: 0x41, count: 15)).version == 2)
        #expect(try QRCode(bytes: [UInt8](repeating: 0x41, count: 2953), correction: .low).version == 40)
        let padded = try QRCode(bytes: Array("x".utf8), correction: .high, minimumVersion: 9)
        #expect(padded.version == 9)
        #expect(padded.size == 53)
        #expect(try QRCode(bytes: []).version == 1)
    }

    @Test func tooLongPayloadsAndBadParametersAreRefused() {
        for level in QRErrorCorrection.allCases {
            let maximum = QRCode.capacity(version: 40, correction: level)
            #expect(throws: QRError.payloadTooLong(bytes: maximum + 1, maximum: maximum)) {
                try QRCode(bytes: [UInt8](repeating: 0x30, count: maximum + 1), correction: level)
            }
            #expect(throws: Never.self) { try QRCode(bytes: [UInt8](repeating: 0x30, count: maximum), correction: level) }
        }
        #expect(throws: QRError.payloadTooLong(bytes: 3000, maximum: 2953)) {
            try QRCode(text: String(repeating: "a", count: 3000), correction: .low)
        }
        #expect(throws: QRError.versionOutOfRange(0)) { try QRCode(text: "a", minimumVersion: 0) }
        #expect(throws: QRError.versionOutOfRange(41)) { try QRCode(text: "a", minimumVersion: 41) }
        #expect(throws: QRError.maskOutOfRange(8)) { try QRCode(bytes: [1], mask: 8) }
        #expect(QRError.payloadTooLong(bytes: 1, maximum: 0).code == "qr-payload-too-long")
    }

    @Test func isDarkIsLightOutsideTheSymbol() throws {
        let code = try QRCode(text: "outside")
        #expect(code.isDark(x: 0, y: 0))  // the finder's corner
        #expect(!code.isDark(x: -1, y: 0))
        #expect(!code.isDark(x: code.size, y: 0))
        #expect(!code.isDark(x: 0, y: code.size))
    }

    // MARK: Penalty

    @Test func penaltyCountsEachRule() {
        // Expected totals from segno's mask_scores (N1, N2, N3, N4) on the same matrices.
        // 21 × 21 all light: (798, 1200, 0, 100): 42 lines, each one run of 21 (19 points); 400 2×2 blocks; 0 % dark.
        let light = [UInt64](repeating: 0, count: 21)
        let all = light.withUnsafeBufferPointer { QRPenalty.score(rows: $0.baseAddress!, columns: $0.baseAddress!, size: 21, stride: 1) }
        #expect(all == 798 + 1200 + 0 + 100)
        // Row 10 = dark-light-dark-dark-dark-light-dark from the left edge, the rest light: (776, 1158, 40, 90); the
        // finder-like pattern counts once (light before it is outside the symbol, and light after it).
        var rows = [UInt64](repeating: 0, count: 21)
        rows[10] = 0b101_1101
        var columns = [UInt64](repeating: 0, count: 21)
        for x in [0, 2, 3, 4, 6] { columns[x] = 1 << 10 }
        let narrow = rows.withUnsafeBufferPointer { r in
            columns.withUnsafeBufferPointer { c in QRPenalty.score(rows: r.baseAddress!, columns: c.baseAddress!, size: 21, stride: 1) }
        }
        #expect(narrow == 776 + 1158 + 40 + 90)
        // The three-word lines (versions 11 and up) score the same matrix the same.
        let wide = rows.flatMap { [$0, 0, 0] }.withUnsafeBufferPointer { r in
            columns.flatMap { [$0, 0, 0] }.withUnsafeBufferPointer { c in
                QRPenalty.score(rows: r.baseAddress!, columns: c.baseAddress!, size: 21, stride: 3)
            }
        }
        #expect(wide == narrow)
    }

    // MARK: Rendering

    @Test func svgIsOnePathOfRunsAndEscapesTheLabel() throws {
        let code = try QRCode(text: "https://qr.alipay.com/bax03431", correction: .medium)
        let svg = code.svg(moduleSize: 5, quietZone: 4, label: #"Pay <50 & "more"> 'now'"#)
        let extent = code.size + 8
        #expect(svg.hasPrefix(#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \#(extent) \#(extent)" width="\#(extent * 5)" height="\#(extent * 5)" shape-rendering="crispEdges" role="img" aria-label="Pay &lt;50 &amp; &quot;more&quot;&gt; &#39;now&#39;"><title>Pay &lt;50 &amp; &quot;more&quot;&gt; &#39;now&#39;</title>"#))
        #expect(svg.hasSuffix(#""/></svg>"#))
        #expect(svg.components(separatedBy: "<path").count == 2)
        // Redrawing the runs gives back every module.
        let path = try #require(svg.components(separatedBy: #"d=""#).last?.components(separatedBy: "\"").first)
        var dark = Set<[Int]>()
        for run in path.split(separator: "z") {
            let numbers = run.dropFirst().split(whereSeparator: { " hv-".contains($0) }).map { Int($0)! }
            #expect(numbers.count == 5 && numbers[3] == 1 && numbers[2] == numbers[4])
            for x in numbers[0]..<(numbers[0] + numbers[2]) { dark.insert([x - 4, numbers[1] - 4]) }
        }
        for y in 0..<code.size {
            for x in 0..<code.size { #expect(dark.contains([x, y]) == code.isDark(x: x, y: y)) }
        }
        // Without a label it is hidden from assistive technology; without a module size it has no fixed size.
        let plain = code.svg(moduleSize: 0, quietZone: 0)
        #expect(plain.contains(#"viewBox="0 0 \#(code.size) \#(code.size)" shape-rendering="crispEdges" aria-hidden="true">"#))
        #expect(!plain.prefix(while: { $0 != ">" }).contains("width="))
    }

    @Test func pngHasValidChunksAndTheModulesAsPixels() throws {
        let code = try QRCode(text: "LPA:1$smdp.example.com$04386-AGYFT", correction: .quartile)
        let scale = 3, quiet = 4
        let png = code.png(scale: scale, quietZone: quiet)
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var offset = 8
        var chunks: [(String, [UInt8])] = []
        while offset < png.count {
            let length = png[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
            let type = String(decoding: png[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let body = Array(png[(offset + 8)..<(offset + 8 + length)])
            let crc = png[(offset + 8 + length)..<(offset + 12 + length)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            let covered = Array(png[(offset + 4)..<(offset + 8 + length)])
            #expect(crc == covered.withUnsafeBufferPointer { QRPNG.crc32($0) }, "CRC of \(type)")
            chunks.append((type, body))
            offset += 12 + length
        }
        #expect(chunks.map(\.0) == ["IHDR", "IDAT", "IEND"])
        let width = (code.size + 2 * quiet) * scale
        #expect(chunks[0].1.prefix(8) == [0, 0, UInt8(width >> 8), UInt8(width & 0xFF), 0, 0, UInt8(width >> 8), UInt8(width & 0xFF)])
        #expect(Array(chunks[0].1.suffix(5)) == [1, 0, 0, 0, 0])
        // One stored block (BFINAL 1, LEN, NLEN), then the scanlines and their Adler-32.
        let zlib = chunks[1].1
        #expect(zlib[0] == 0x78 && (Int(zlib[0]) << 8 | Int(zlib[1])) % 31 == 0)
        #expect(zlib[2] == 1)
        let length = Int(zlib[3]) | Int(zlib[4]) << 8
        #expect(Int(zlib[5]) | Int(zlib[6]) << 8 == ~length & 0xFFFF)
        let lineLength = (width + 7) / 8 + 1
        #expect(length == lineLength * width)
        let raw = Array(zlib[7..<(7 + length)])
        let adler = zlib.suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        #expect(adler == raw.withUnsafeBufferPointer { QRPNG.adler32($0) })
        for py in 0..<width {
            #expect(raw[py * lineLength] == 0)
            for px in 0..<width {
                let black = raw[py * lineLength + 1 + px / 8] & (0x80 >> UInt8(px % 8)) == 0
                #expect(black == code.isDark(x: px / scale - quiet, y: py / scale - quiet))
            }
        }
    }

    @Test func checksumsMatchKnownValues() {
        // The standard check values: CRC-32 of "123456789" is 0xCBF43926 (ISO 3309 / ITU-T V.42), Adler-32 of
        // "Wikipedia" is 0x11E60398 (RFC 1950's algorithm).
        #expect(Array("123456789".utf8).withUnsafeBufferPointer { QRPNG.crc32($0) } == 0xCBF4_3926)
        #expect(Array("Wikipedia".utf8).withUnsafeBufferPointer { QRPNG.adler32($0) } == 0x11E6_0398)
        // Past zlib's 5,552-byte reduction interval and the 8-byte CRC slices (values from Python's zlib).
        let long = [UInt8](repeating: 0xFF, count: 100_000)
        #expect(long.withUnsafeBufferPointer { QRPNG.adler32($0) } == 0x149A_302C)
        #expect(long.withUnsafeBufferPointer { QRPNG.crc32($0) } == 0x68C6_CEC4)
    }
}

import Foundation
import Testing
@testable import RechargeQR

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
        // "ab" at 1-L: 0100 00000010 01100001 01100010 0000 then 0xEC 0x11 … to 19 codewords.
        let codewords = QRCode.dataCodewords(Array("ab".utf8), version: 1, level: 0)
        #expect(codewords.count == 19)
        #expect(Array(codewords.prefix(5)) == [0x40, 0x26, 0x16, 0x26, 0x20])
        #expect(Array(codewords[5...8]) == [0xEC, 0x11, 0xEC, 0x11])
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
        // A 21 × 21 all-light matrix: every row and column is one run of 21 (21 − 2 = 19 points, 42 lines),
        // 20 × 20 2×2 blocks (3 points each), no finder-like pattern, 0 % dark (10 × 10 points).
        let rows = [UInt64](repeating: 0, count: 21)
        let all = rows.withUnsafeBufferPointer { QRPenalty.score(rows: $0.baseAddress!, columns: $0.baseAddress!, size: 21, stride: 1) }
        #expect(all == 42 * 19 + 400 * 3 + 100)
        // One row 1011101 followed by light: the pattern with 4 light modules after (and before, the symbol's edge)
        // counts once in that row (40); the same line in the three-word layout gives the same score.
        var patterned = [UInt64](repeating: 0, count: 21)
        patterned[10] = 0b1011101
        var columns = [UInt64](repeating: 0, count: 21)
        for x in [0, 2, 3, 4, 6] { columns[x] = 1 << 10 }
        let narrow = patterned.withUnsafeBufferPointer { r in columns.withUnsafeBufferPointer { c in
            QRPenalty.score(rows: r.baseAddress!, columns: c.baseAddress!, size: 21, stride: 1)
        } }
        let wide = patterned.flatMap { [$0, 0, 0] }.withUnsafeBufferPointer { r in columns.flatMap { [$0, 0, 0] }.withUnsafeBufferPointer { c in
            QRPenalty.score(rows: r.baseAddress!, columns: c.baseAddress!, size: 21, stride: 3)
        } }
        #expect(narrow == wide)
        let light = all - 42 * 19 - 100  // 2×2 blocks only
        _ = light
        #expect(narrow > 40)
    }
}

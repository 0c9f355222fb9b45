import Foundation
import Testing
@testable import RechargeCore

@Suite("ICCID")
struct ICCIDTests {
    /// Builds a valid ICCID from a payload using the production check-digit function.
    static func valid(_ payload: String) -> String { payload + String(ICCID.luhnCheckDigit(for: payload)) }

    @Test func luhnAgainstKnownValues() {
        // The textbook Luhn example: 7992739871 has check digit 3.
        #expect(ICCID.luhnCheckDigit(for: "7992739871") == 3)
        #expect(ICCID.luhnValid("79927398713"))
        #expect(!ICCID.luhnValid("79927398710"))
        // Worked by hand: 89445001021983048 2 → check digit 6.
        #expect(ICCID.luhnCheckDigit(for: "894450010219830482") == 6)
        #expect(ICCID.luhnCheckDigit(for: "891004234814455936") == 1)
        #expect(ICCID.luhnCheckDigit(for: "8901260123456789012") == 1)
        #expect(ICCID.luhnValid("0"))
        #expect(!ICCID.luhnValid("12a"))
    }

    @Test("accepts valid 19- and 20-digit ICCIDs", arguments: [
        "8944500102198304826",      // 19 digits, hand-checked
        "8910042348144559361",      // 19 digits, hand-checked
        "89012601234567890121",     // 20 digits, hand-checked
        valid("890000000000000000"),
        valid("8986001234567890123"),
    ])
    func acceptsValid(text: String) throws {
        let iccid = try ICCID(text)
        #expect(iccid.digits == text)
        #expect(iccid.description == text)
    }

    @Test func checkDigitFunctionProducesValidICCIDs() throws {
        var rng = SplitMix64(seed: 89)
        for length in [19, 20] {
            for _ in 0..<200 {
                let payload = "89" + String((0..<(length - 3)).map { _ in Character(String(Int.random(in: 0...9, using: &rng))) })
                let text = Self.valid(payload)
                #expect(text.count == length)
                #expect(try ICCID(text).digits == text)
            }
        }
    }

    @Test("spaces and dashes are tolerated and removed", arguments: [
        ("8944 5001 0219 8304 826", "8944500102198304826"),
        ("8944-5001-0219-8304-826", "8944500102198304826"),
        ("89 012 601-2345 6789 0121", "89012601234567890121"),
    ])
    func separators(text: String, digits: String) throws {
        #expect(try ICCID(text).digits == digits)
        #expect(try ICCID(text) == ICCID(digits))
    }

    @Test("every wrong check digit is rejected")
    func wrongCheckDigit() {
        for valid in ["8944500102198304826", "89012601234567890121"] {
            let payload = valid.dropLast()
            for digit in 0...9 where String(digit) != String(valid.last!) {
                let error = expectRechargeError("invalid-iccid") { try ICCID(payload + String(digit)) }
                if case .invalidICCID(_, let reason)? = error { #expect(reason.contains("check digit")) }
            }
        }
    }

    @Test("a transposition of two adjacent digits is caught")
    func transposition() {
        // 89445... → 89454...: swapping '4' and '5' changes the Luhn sum.
        expectRechargeError("invalid-iccid") { try ICCID("8945400102198304826") }
    }

    @Test("wrong lengths are rejected even with a valid Luhn digit", arguments: [
        valid("89"),                       // 3 digits
        valid("89000000000000000"),        // 18 digits
        valid("8900000000000000000000"),   // 21 digits (payload 20 + check)
        valid("89000000000000000000000"),  // 24 digits
        "",
    ])
    func wrongLength(text: String) {
        let error = expectRechargeError("invalid-iccid") { try ICCID(text) }
        if case .invalidICCID(_, let reason)? = error { #expect(reason.contains("19 or 20 digits")) }
    }

    @Test("must start with the telecom prefix 89", arguments: [
        valid("880000000000000000"),
        valid("980000000000000000"),
        valid("000000000000000000"),
        valid("8000000000000000000"),
    ])
    func wrongPrefix(text: String) {
        #expect(ICCID.luhnValid(text))
        let error = expectRechargeError("invalid-iccid") { try ICCID(text) }
        if case .invalidICCID(_, let reason)? = error { #expect(reason.contains("89")) }
    }

    @Test("letters and other characters are rejected", arguments: [
        "894450010219830482A",
        "89445001021983048F6",
        "8944500102198304826F",
        "8944.5001.0219.8304.826",
        "8944_5001_0219_8304_826",
        "８９44500102198304826",      // full-width digits
        "+8944500102198304826",
    ])
    func letters(text: String) {
        let error = expectRechargeError("invalid-iccid") { try ICCID(text) }
        if case .invalidICCID(let echoed, _)? = error { #expect(echoed == text) }
    }

    @Test func codable() throws {
        let iccid = try ICCID("8944 5001 0219 8304 826")
        let data = try JSONEncoder().encode(iccid)
        #expect(String(decoding: data, as: UTF8.self) == #""8944500102198304826""#)
        #expect(try JSONDecoder().decode(ICCID.self, from: data) == iccid)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ICCID.self, from: Data(#""8944500102198304827""#.utf8)) }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ICCID.self, from: Data("8944500102198304826".utf8)) }
    }
}

import Foundation
import Testing
@testable import RechargeCore

@Suite("MSISDN")
struct MSISDNTests {
    @Test("normalises the ways people type numbers to E.164", arguments: [
        ("+1 (415) 555-0100", "+14155550100"),
        ("(415) 555-0100", "+14155550100"),
        ("415.555.0100", "+14155550100"),
        ("415-555-0100", "+14155550100"),
        ("4155550100", "+14155550100"),
        ("14155550100", "+14155550100"),
        ("1 415 555 0100", "+14155550100"),
        ("+14155550100", "+14155550100"),
        ("  +1 415 555 0100\n", "+14155550100"),
        ("+1\u{00A0}415\u{00A0}555\u{00A0}0100", "+14155550100"),
        ("0086 138 0013 8000", "+8613800138000"),
        ("011 44 20 7946 0958", "+442079460958"),
        ("+8613800138000", "+8613800138000"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("+852 2123 4567", "+85221234567"),
        ("+49 30 12345678", "+493012345678"),
        ("+44 (0)20 7946 0958", "+442079460958"),
    ])
    func normalises(input: String, e164: String) throws {
        let number = try MSISDN(input)
        #expect(number.e164 == e164)
        #expect(number.description == e164)
    }

    @Test func maximumAndMinimumLength() throws {
        // 15 digits is the E.164 maximum, 8 the minimum accepted.
        #expect(try MSISDN("+861234567890123").e164 == "+861234567890123")
        #expect(try MSISDN("+44123456").e164 == "+44123456")
        expectRechargeError("invalid-msisdn") { try MSISDN("+8612345678901234") }   // 16 digits
        expectRechargeError("invalid-msisdn") { try MSISDN("+4412345") }           // 7 digits
    }

    @Test("rejects invalid numbers", arguments: [
        "",
        "   ",
        "+",
        "+0123",
        "+0086 138 0013 8000",
        "12345",
        "123456789",             // neither national 10 digits nor +country code
        "+4412345678901234",     // 16 digits
        "00 4412345678901234",   // 16 digits after the 00 prefix
        "+1415555abcd",
        "+1 415 CALL NOW",
        "abc",
        "+1 (115) 555-0100",     // NANP area code starting with 1
        "+1 (015) 555-0100",     // NANP area code starting with 0
        "+1 415 155 0100",       // NANP exchange starting with 1
        "+1 415 055 0100",       // NANP exchange starting with 0
        "(115) 555-0100",
        "+1 415 555 010",        // NANP with 9 digits
        "+1 415 555 01000",      // NANP with 11 digits
        "1+4155550100",          // '+' not at the start
        "+1415+5550100",
        "++14155550100",
        "+1/415/555/0100",
        "+1_415_555_0100",
        "+1415555010\u{0301}0",  // a digit with a combining accent is not an ASCII digit
        "+１４１５５５５０１００",    // full-width digits
        "+١٤١٥٥٥٥٠١٠٠",          // Arabic-Indic digits
        "0123456789",            // 10 national digits make an invalid NANP number
    ])
    func rejects(input: String) {
        let error = expectRechargeError("invalid-msisdn") { try MSISDN(input) }
        if case .invalidMSISDN(let echoed, _)? = error { #expect(echoed == input) }
    }

    @Test func masked() throws {
        #expect(try MSISDN("+14155550100").masked == "+*******0100")
        #expect(try MSISDN("+8613800138000").masked == "+*********8000")
        #expect(try MSISDN("+44123456").masked == "+****3456")
        // The mask never reveals more than the last four digits.
        let number = try MSISDN("+442079460958")
        #expect(number.masked.count == number.e164.count)
        #expect(number.masked.hasSuffix("0958"))
        #expect(!number.masked.dropLast(4).contains { $0.isNumber })
    }

    @Test("the E.164 fast path agrees with the full parser on every +digits text")
    func fastPathAgreesWithParser() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let digits = String((0..<Int.random(in: 0...17, using: &generator)).map { _ in
                Character(String(Int.random(in: 0...9, using: &generator)))
            })
            let canonical = "+" + digits
            // A leading space keeps the text off the fast path, so the full parser decides it.
            let fast = try? MSISDN(canonical)
            let full = try? MSISDN(" " + canonical)
            #expect(fast == full, "\(canonical)")
        }
    }

    @Test func equalityAndOrdering() throws {
        #expect(try MSISDN("(415) 555-0100") == MSISDN("+1 415 555 0100"))
        #expect(try MSISDN("+14155550100") < MSISDN("+14155550101"))
        #expect(try MSISDN("+14155550100") < MSISDN("+8613800138000"))
        #expect(Set([try MSISDN("4155550100"), try MSISDN("+14155550100")]).count == 1)
    }

    @Test func codableRoundTrip() throws {
        let number = try MSISDN("(415) 555-0100")
        let data = try JSONEncoder().encode(number)
        #expect(String(decoding: data, as: UTF8.self) == #""+14155550100""#)
        #expect(try JSONDecoder().decode(MSISDN.self, from: data) == number)
        // Decoding normalises like the initialiser.
        #expect(try JSONDecoder().decode(MSISDN.self, from: Data(#""0086 138 0013 8000""#.utf8)).e164 == "+8613800138000")
        struct Wrapper: Codable, Equatable { let msisdn: MSISDN }
        let wrapper = Wrapper(msisdn: number)
        #expect(try JSONDecoder().decode(Wrapper.self, from: JSONEncoder().encode(wrapper)) == wrapper)
    }

    @Test func decodingFailure() throws {
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(MSISDN.self, from: Data(#""12345""#.utf8)) }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(MSISDN.self, from: Data(#""""#.utf8)) }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(MSISDN.self, from: Data("14155550100".utf8)) }
        do {
            _ = try JSONDecoder().decode(MSISDN.self, from: Data(#""+0123""#.utf8))
            Issue.record("expected a decoding error")
        } catch DecodingError.dataCorrupted(let context) {
            #expect(context.debugDescription.contains("+0123"))
        }
    }
}

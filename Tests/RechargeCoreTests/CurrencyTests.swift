import Foundation
import Testing
@testable import RechargeCore

@Suite("Currency")
struct CurrencyTests {
    @Test("every known code is accepted with its minor-unit digits", arguments: Array(Currency.known.keys).sorted())
    func knownCodes(code: String) throws {
        let currency = try Currency(code: code)
        #expect(currency.code == code)
        #expect(currency.minorUnitDigits == Currency.known[code])
        #expect(currency.description == code)
    }

    @Test func knownTableHasExpectedDigits() {
        #expect(Currency.known["USD"] == 2)
        #expect(Currency.known["CNY"] == 2)
        #expect(Currency.known["JPY"] == 0)
        #expect(Currency.known["KRW"] == 0)
        #expect(Currency.known["KWD"] == 3)
        #expect(Currency.known["BHD"] == 3)
        #expect(Currency.known.keys.allSatisfy { $0.count == 3 && $0 == $0.uppercased() })
    }

    @Test("input is case-insensitive and stored upper-case", arguments: ["usd", "Usd", "uSD", "USD"])
    func caseInsensitive(text: String) throws {
        let currency = try Currency(code: text)
        #expect(currency == .usd)
        #expect(currency.code == "USD")
        #expect(currency.minorUnitDigits == 2)
    }

    @Test("unknown codes are rejected", arguments: ["XYZ", "", "US", "USDD", " USD", "USD ", "$", "EURO", "xxx"])
    func unknownCode(text: String) {
        #expect(throws: RechargeError.unknownCurrency(text)) { try Currency(code: text) }
    }

    @Test func staticCurrencies() {
        #expect(Currency.usd.code == "USD" && Currency.usd.minorUnitDigits == 2)
        #expect(Currency.cny.code == "CNY" && Currency.cny.minorUnitDigits == 2)
        #expect(Currency.usd != Currency.cny)
    }

    @Test func microsPerMinorUnit() throws {
        #expect(Currency.usd.microsPerMinorUnit == 10_000)
        #expect(jpy.microsPerMinorUnit == 1_000_000)
        #expect(kwd.microsPerMinorUnit == 1_000)
        for (code, digits) in Currency.known {
            let currency = try Currency(code: code)
            var expected: Int64 = 1_000_000
            for _ in 0..<digits { expected /= 10 }
            #expect(currency.microsPerMinorUnit == expected, "\(code)")
            // A minor unit times 10^digits is one major unit.
            #expect(currency.microsPerMinorUnit * Int64(pow(10, Double(digits))) == Money.microsPerUnit, "\(code)")
        }
    }

    @Test func codableRoundTrip() throws {
        let data = try JSONEncoder().encode([Currency.usd, jpy, kwd])
        #expect(String(decoding: data, as: UTF8.self) == #"["USD","JPY","KWD"]"#)
        #expect(try JSONDecoder().decode([Currency].self, from: data) == [.usd, jpy, kwd])
        #expect(try JSONDecoder().decode(Currency.self, from: Data(#""eur""#.utf8)).code == "EUR")
    }

    @Test func decodingUnknownCodeFails() {
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Currency.self, from: Data(#""ABC""#.utf8)) }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Currency.self, from: Data("840".utf8)) }
    }
}

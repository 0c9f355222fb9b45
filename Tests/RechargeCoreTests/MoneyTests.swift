import Foundation
import Testing
@testable import RechargeCore

@Suite("Money")
struct MoneyTests {
    // MARK: Parsing

    @Test("parses decimal text into exact micro-units", arguments: [
        ("10", Int64(10_000_000)),
        ("10.5", 10_500_000),
        ("10.50", 10_500_000),
        ("0.000001", 1),
        ("-0.000001", -1),
        ("-3", -3_000_000),
        ("+2.25", 2_250_000),
        ("0", 0),
        ("-0", 0),
        ("0.0", 0),
        ("007.1", 7_100_000),
        ("1.5000000", 1_500_000),
        ("1.500000000000", 1_500_000),
        ("0.1234560", 123_456),
        ("123456.654321", 123_456_654_321),
        ("9223372036854.775807", Int64.max),
        ("-9223372036854.775807", -Int64.max),
    ])
    func parses(text: String, micros: Int64) throws {
        let money = try Money(decimal: text, currency: usd)
        #expect(money.micros == micros)
        #expect(money.currency == usd)
    }

    @Test("rejects text that is not a plain decimal number", arguments: [
        "", ".5", "5.", "abc", "1e5", "1E5", "1,000", "1,5", "-", "+", "--1", "+-1", "1.2.3", " 1", "1 ", "1_000",
        "0x10", "1.-5", "1.+5", "٣", "１", "１0", "5.0a", "NaN", "inf", "1..2", ".",
    ])
    func rejectsMalformed(text: String) {
        let error = expectRechargeError("invalid-amount") { try Money(decimal: text, currency: usd) }
        if case .invalidAmount(let echoed, _)? = error { #expect(echoed == text) }
    }

    @Test("rejects more than six significant decimal places instead of rounding", arguments: [
        "1.0000001", "0.0000005", "-0.1234567", "1.00000010", "0.00000001",
    ])
    func rejectsTooPrecise(text: String) {
        expectRechargeError("invalid-amount") { try Money(decimal: text, currency: usd) }
    }

    @Test("rejects values beyond Int64 micro-units with amountOverflow", arguments: [
        "9223372036854.775808",            // Int64.max micros + 1
        "9223372036855",                   // whole part fits in Int64, times 10^6 does not
        "-9223372036855",
        "99999999999999999999",            // does not even fit in Int64 as a whole number
        "123456789012345678901234567890.5",
    ])
    func rejectsOverflow(text: String) {
        #expect(throws: RechargeError.amountOverflow) { try Money(decimal: text, currency: usd) }
    }

    // MARK: Arithmetic

    @Test func addsAndSubtractsExactly() throws {
        let a = try Money(decimal: "10.000001", currency: usd)
        let b = try Money(decimal: "0.999999", currency: usd)
        #expect(try a.adding(b) == Money(micros: 11_000_000, currency: usd))
        #expect(try a.subtracting(b) == Money(micros: 9_000_002, currency: usd))
        #expect(try b.subtracting(a) == Money(micros: -9_000_002, currency: usd))
        #expect(try a.adding(.zero(usd)) == a)
    }

    @Test func additionOverflowThrows() throws {
        let max = Money(micros: .max, currency: usd)
        let oneMicro = Money(micros: 1, currency: usd)
        #expect(throws: RechargeError.amountOverflow) { try max.adding(oneMicro) }
        #expect(throws: RechargeError.amountOverflow) { try Money(micros: .min, currency: usd).adding(Money(micros: -1, currency: usd)) }
        #expect(throws: RechargeError.amountOverflow) { try Money(micros: .min, currency: usd).subtracting(oneMicro) }
        #expect(throws: RechargeError.amountOverflow) { try max.subtracting(Money(micros: -1, currency: usd)) }
        #expect(throws: RechargeError.amountOverflow) { try Money.zero(usd).subtracting(Money(micros: .min, currency: usd)) }
        // Right at the edge is fine.
        #expect(try Money(micros: .max - 1, currency: usd).adding(oneMicro).micros == .max)
        #expect(try Money(micros: .min + 1, currency: usd).subtracting(oneMicro).micros == .min)
    }

    @Test func currencyMismatchThrows() {
        let dollars = Money(micros: 1_000_000, currency: usd)
        let yuan = Money(micros: 1_000_000, currency: cny)
        #expect(throws: RechargeError.currencyMismatch(expected: "USD", got: "CNY")) { try dollars.adding(yuan) }
        #expect(throws: RechargeError.currencyMismatch(expected: "CNY", got: "USD")) { try yuan.subtracting(dollars) }
        // Even zero in another currency is a mismatch.
        #expect(throws: RechargeError.currencyMismatch(expected: "USD", got: "JPY")) { try dollars.adding(.zero(jpy)) }
    }

    @Test func signPredicates() {
        #expect(Money(micros: 1, currency: usd).isPositive)
        #expect(!Money(micros: 1, currency: usd).isNegative)
        #expect(Money(micros: -1, currency: usd).isNegative)
        #expect(!Money(micros: -1, currency: usd).isPositive)
        #expect(!Money.zero(usd).isPositive)
        #expect(!Money.zero(usd).isNegative)
        #expect(Money.zero(jpy).micros == 0 && Money.zero(jpy).currency == jpy)
    }

    @Test func equalityIncludesCurrency() {
        #expect(Money(micros: 5, currency: usd) == Money(micros: 5, currency: usd))
        #expect(Money(micros: 5, currency: usd) != Money(micros: 5, currency: cny))
        #expect(Money(micros: 5, currency: usd) != Money(micros: 6, currency: usd))
    }

    // MARK: Minor units

    struct RoundingCase: Sendable, CustomTestStringConvertible {
        let amount: String
        let currency: Currency
        let halfEven: Int64
        let halfUp: Int64
        let towardZero: Int64
        let awayFromZero: Int64
        var testDescription: String { "\(amount) \(currency.code)" }

        func expected(_ rule: MinorUnitRounding) -> Int64 {
            switch rule {
            case .halfEven: halfEven
            case .halfUp: halfUp
            case .towardZero: towardZero
            case .awayFromZero: awayFromZero
            }
        }
    }

    static let roundingCases: [RoundingCase] = [
        // USD: 2 digits, 10_000 micros per cent.
        .init(amount: "10.50", currency: usd, halfEven: 1050, halfUp: 1050, towardZero: 1050, awayFromZero: 1050),
        .init(amount: "0", currency: usd, halfEven: 0, halfUp: 0, towardZero: 0, awayFromZero: 0),
        .init(amount: "0.005", currency: usd, halfEven: 0, halfUp: 1, towardZero: 0, awayFromZero: 1),
        .init(amount: "0.015", currency: usd, halfEven: 2, halfUp: 2, towardZero: 1, awayFromZero: 2),
        .init(amount: "0.025", currency: usd, halfEven: 2, halfUp: 3, towardZero: 2, awayFromZero: 3),
        .init(amount: "0.035", currency: usd, halfEven: 4, halfUp: 4, towardZero: 3, awayFromZero: 4),
        .init(amount: "-0.005", currency: usd, halfEven: 0, halfUp: -1, towardZero: 0, awayFromZero: -1),
        .init(amount: "-0.015", currency: usd, halfEven: -2, halfUp: -2, towardZero: -1, awayFromZero: -2),
        .init(amount: "-0.025", currency: usd, halfEven: -2, halfUp: -3, towardZero: -2, awayFromZero: -3),
        .init(amount: "1.234567", currency: usd, halfEven: 123, halfUp: 123, towardZero: 123, awayFromZero: 124),
        .init(amount: "1.235001", currency: usd, halfEven: 124, halfUp: 124, towardZero: 123, awayFromZero: 124),
        .init(amount: "1.234999", currency: usd, halfEven: 123, halfUp: 123, towardZero: 123, awayFromZero: 124),
        .init(amount: "-1.234567", currency: usd, halfEven: -123, halfUp: -123, towardZero: -123, awayFromZero: -124),
        .init(amount: "-1.235001", currency: usd, halfEven: -124, halfUp: -124, towardZero: -123, awayFromZero: -124),
        .init(amount: "0.000001", currency: usd, halfEven: 0, halfUp: 0, towardZero: 0, awayFromZero: 1),
        .init(amount: "-0.000001", currency: usd, halfEven: 0, halfUp: 0, towardZero: 0, awayFromZero: -1),
        .init(amount: "-3", currency: usd, halfEven: -300, halfUp: -300, towardZero: -300, awayFromZero: -300),
        // JPY: no minor unit, 1_000_000 micros per yen.
        .init(amount: "500", currency: jpy, halfEven: 500, halfUp: 500, towardZero: 500, awayFromZero: 500),
        .init(amount: "0.5", currency: jpy, halfEven: 0, halfUp: 1, towardZero: 0, awayFromZero: 1),
        .init(amount: "1.5", currency: jpy, halfEven: 2, halfUp: 2, towardZero: 1, awayFromZero: 2),
        .init(amount: "2.5", currency: jpy, halfEven: 2, halfUp: 3, towardZero: 2, awayFromZero: 3),
        .init(amount: "-2.5", currency: jpy, halfEven: -2, halfUp: -3, towardZero: -2, awayFromZero: -3),
        .init(amount: "-1.5", currency: jpy, halfEven: -2, halfUp: -2, towardZero: -1, awayFromZero: -2),
        .init(amount: "2.4", currency: jpy, halfEven: 2, halfUp: 2, towardZero: 2, awayFromZero: 3),
        .init(amount: "2.6", currency: jpy, halfEven: 3, halfUp: 3, towardZero: 2, awayFromZero: 3),
        .init(amount: "-2.6", currency: jpy, halfEven: -3, halfUp: -3, towardZero: -2, awayFromZero: -3),
        .init(amount: "0.000001", currency: jpy, halfEven: 0, halfUp: 0, towardZero: 0, awayFromZero: 1),
        // KWD: 3 digits, 1_000 micros per fils.
        .init(amount: "1.2345", currency: kwd, halfEven: 1234, halfUp: 1235, towardZero: 1234, awayFromZero: 1235),
        .init(amount: "1.2355", currency: kwd, halfEven: 1236, halfUp: 1236, towardZero: 1235, awayFromZero: 1236),
        .init(amount: "-1.2345", currency: kwd, halfEven: -1234, halfUp: -1235, towardZero: -1234, awayFromZero: -1235),
        .init(amount: "-1.2355", currency: kwd, halfEven: -1236, halfUp: -1236, towardZero: -1235, awayFromZero: -1236),
        .init(amount: "0.0001", currency: kwd, halfEven: 0, halfUp: 0, towardZero: 0, awayFromZero: 1),
        .init(amount: "0.0006", currency: kwd, halfEven: 1, halfUp: 1, towardZero: 0, awayFromZero: 1),
        .init(amount: "7.125", currency: kwd, halfEven: 7125, halfUp: 7125, towardZero: 7125, awayFromZero: 7125),
    ]

    @Test("minorUnits follows each rounding rule", arguments: roundingCases, MinorUnitRounding.allCases)
    func minorUnits(testCase: RoundingCase, rule: MinorUnitRounding) throws {
        let money = try Money(decimal: testCase.amount, currency: testCase.currency)
        #expect(money.minorUnits(rounding: rule) == testCase.expected(rule))
    }

    @Test("minorUnits at the extremes of Int64 does not trap", arguments: MinorUnitRounding.allCases)
    func minorUnitsAtExtremes(rule: MinorUnitRounding) {
        // Int64.max = 9223372036854775807 micros = 922337203685477 cents + 5807 micros (above half).
        let max = Money(micros: .max, currency: usd).minorUnits(rounding: rule)
        let min = Money(micros: .min, currency: usd).minorUnits(rounding: rule)
        #expect(max == (rule == .towardZero ? 922_337_203_685_477 : 922_337_203_685_478))
        #expect(min == (rule == .towardZero ? -922_337_203_685_477 : -922_337_203_685_478))
        let yenMax = Money(micros: .max, currency: jpy).minorUnits(rounding: rule)
        #expect(yenMax == (rule == .towardZero ? 9_223_372_036_854 : 9_223_372_036_855))
    }

    /// An independent reference: choose among the two integers around the exact value by distance.
    static func referenceMinorUnits(micros: Int64, divisor: Int64, rule: MinorUnitRounding) -> Int64 {
        let floorQ = micros >= 0 ? micros / divisor : -((-micros + divisor - 1) / divisor)
        let ceilQ = floorQ * divisor == micros ? floorQ : floorQ + 1
        if floorQ == ceilQ { return floorQ }
        let distDown = micros - floorQ * divisor   // > 0
        let distUp = ceilQ * divisor - micros       // > 0
        let towardZero = micros >= 0 ? floorQ : ceilQ
        let awayFromZero = micros >= 0 ? ceilQ : floorQ
        switch rule {
        case .towardZero: return towardZero
        case .awayFromZero: return awayFromZero
        case .halfUp:
            if distDown == distUp { return awayFromZero }
            return distDown < distUp ? floorQ : ceilQ
        case .halfEven:
            if distDown == distUp { return floorQ % 2 == 0 ? floorQ : ceilQ }
            return distDown < distUp ? floorQ : ceilQ
        }
    }

    @Test("minorUnits agrees with a reference implementation on random amounts")
    func minorUnitsRandomized() {
        var rng = SplitMix64(seed: 0xC0FFEE)
        for currency in [usd, jpy, kwd] {
            let divisor = currency.microsPerMinorUnit
            for iteration in 0..<5_000 {
                // Mix small amounts (lots of halves) with large ones.
                let micros: Int64 = iteration % 2 == 0
                    ? Int64.random(in: -3 * divisor...3 * divisor, using: &rng)
                    : Int64.random(in: -1_000_000_000_000_000...1_000_000_000_000_000, using: &rng)
                let money = Money(micros: micros, currency: currency)
                for rule in MinorUnitRounding.allCases {
                    let expected = Self.referenceMinorUnits(micros: micros, divisor: divisor, rule: rule)
                    #expect(money.minorUnits(rounding: rule) == expected, "\(micros) micros \(currency.code) \(rule)")
                }
            }
        }
    }

    @Test func fromMinorUnits() throws {
        #expect(try Money.fromMinorUnits(1050, currency: usd) == Money(micros: 10_500_000, currency: usd))
        #expect(try Money.fromMinorUnits(-1, currency: usd) == Money(micros: -10_000, currency: usd))
        #expect(try Money.fromMinorUnits(500, currency: jpy) == Money(micros: 500_000_000, currency: jpy))
        #expect(try Money.fromMinorUnits(1235, currency: kwd) == Money(micros: 1_235_000, currency: kwd))
        #expect(try Money.fromMinorUnits(0, currency: kwd) == .zero(kwd))
        #expect(try Money.fromMinorUnits(1050, currency: usd).decimalString == "10.50")
    }

    @Test func fromMinorUnitsOverflow() throws {
        #expect(throws: RechargeError.amountOverflow) { try Money.fromMinorUnits(.max, currency: usd) }
        #expect(throws: RechargeError.amountOverflow) { try Money.fromMinorUnits(.min, currency: usd) }
        #expect(throws: RechargeError.amountOverflow) { try Money.fromMinorUnits(Int64.max / 1_000_000 + 1, currency: jpy) }
        #expect(throws: RechargeError.amountOverflow) { try Money.fromMinorUnits(Int64.max / 1_000 + 1, currency: kwd) }
        // The largest representable number of minor units is accepted.
        #expect(try Money.fromMinorUnits(Int64.max / 1_000_000, currency: jpy).micros == Int64.max / 1_000_000 * 1_000_000)
        #expect(try Money.fromMinorUnits(Int64.max / 10_000, currency: usd).micros == Int64.max / 10_000 * 10_000)
    }

    @Test("fromMinorUnits then minorUnits is the identity for every rule")
    func minorUnitsRoundTrip() throws {
        var rng = SplitMix64(seed: 42)
        for currency in [usd, jpy, kwd] {
            let limit = Int64.max / currency.microsPerMinorUnit
            let samples: [Int64] = [0, 1, -1, limit, -limit] + (0..<500).map { _ in Int64.random(in: -limit...limit, using: &rng) }
            for units in samples {
                let money = try Money.fromMinorUnits(units, currency: currency)
                for rule in MinorUnitRounding.allCases {
                    #expect(money.minorUnits(rounding: rule) == units)
                }
            }
        }
    }

    // MARK: Formatting

    @Test("decimalString shows at least the currency's minor digits", arguments: [
        (Int64(10_500_000), usd, "10.50"),
        (10_000_000, usd, "10.00"),
        (0, usd, "0.00"),
        (1, usd, "0.000001"),
        (-1, usd, "-0.000001"),
        (-3_000_000, usd, "-3.00"),
        (-500_000, usd, "-0.50"),
        (1_234_500, usd, "1.2345"),
        (500_000_000, jpy, "500"),
        (0, jpy, "0"),
        (-500_000_000, jpy, "-500"),
        (500_000, jpy, "0.5"),
        (1_500_000, kwd, "1.500"),
        (1_234_500, kwd, "1.2345"),
        (Int64.max, usd, "9223372036854.775807"),
        (Int64.min, usd, "-9223372036854.775808"),
    ])
    func decimalString(micros: Int64, currency: Currency, expected: String) {
        #expect(Money(micros: micros, currency: currency).decimalString == expected)
    }

    @Test func description() throws {
        #expect(try Money(decimal: "10.5", currency: usd).description == "10.50 USD")
        #expect(try Money(decimal: "500", currency: jpy).description == "500 JPY")
    }

    @Test("decimalString parses back to the same amount")
    func decimalStringRoundTrip() throws {
        var rng = SplitMix64(seed: 7)
        for currency in [usd, jpy, kwd] {
            let samples: [Int64] = [0, 1, -1, .max, -Int64.max] + (0..<1_000).map { _ in Int64.random(in: -Int64.max...Int64.max, using: &rng) }
            for micros in samples {
                let money = Money(micros: micros, currency: currency)
                #expect(try Money(decimal: money.decimalString, currency: currency) == money)
            }
        }
    }
}

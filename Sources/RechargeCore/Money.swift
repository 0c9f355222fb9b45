/// An exact amount of money: a signed count of micro-units (1e-6 of the major unit) in one currency.
///
/// Arithmetic never rounds and never wraps: it throws on a currency mismatch or an Int64 overflow.
/// Rounding happens only when an amount leaves the system in whole minor units (``minorUnits(rounding:)``).
public struct Money: Hashable, Sendable, CustomStringConvertible {
    public static let microsPerUnit: Int64 = 1_000_000

    public let micros: Int64
    public let currency: Currency

    public init(micros: Int64, currency: Currency) {
        self.micros = micros
        self.currency = currency
    }

    public static func zero(_ currency: Currency) -> Money { Money(micros: 0, currency: currency) }

    /// Parses a decimal string such as `"10"`, `"10.5"` or `"-0.000001"`. More than six fractional
    /// digits, exponents, grouping separators or a value beyond Int64 micro-units are rejected, never rounded.
    public init(decimal text: String, currency: Currency) throws(RechargeError) {
        self.init(micros: try Money.parseMicros(text), currency: currency)
    }

    /// Exact sum; throws on currency mismatch or overflow.
    public func adding(_ other: Money) throws(RechargeError) -> Money {
        try checkSameCurrency(other)
        let (sum, overflow) = micros.addingReportingOverflow(other.micros)
        if overflow { throw .amountOverflow }
        return Money(micros: sum, currency: currency)
    }

    /// Exact difference; throws on currency mismatch or overflow.
    public func subtracting(_ other: Money) throws(RechargeError) -> Money {
        try checkSameCurrency(other)
        let (difference, overflow) = micros.subtractingReportingOverflow(other.micros)
        if overflow { throw .amountOverflow }
        return Money(micros: difference, currency: currency)
    }

    public var isPositive: Bool { micros > 0 }
    public var isNegative: Bool { micros < 0 }

    /// The amount in whole minor units (cents, fen) as payment providers expect, rounded by `rule`.
    public func minorUnits(rounding rule: MinorUnitRounding) -> Int64 {
        let divisor = currency.microsPerMinorUnit
        let quotient = micros / divisor          // truncated toward zero
        let remainder = micros % divisor         // same sign as micros
        if remainder == 0 { return quotient }
        let awayFromZero: Int64 = micros < 0 ? -1 : 1
        let twiceRemainder = remainder.magnitude * 2
        switch rule {
        case .towardZero:
            return quotient
        case .awayFromZero:
            return quotient + awayFromZero
        case .halfUp:
            return twiceRemainder >= divisor.magnitude ? quotient + awayFromZero : quotient
        case .halfEven:
            if twiceRemainder > divisor.magnitude { return quotient + awayFromZero }
            if twiceRemainder < divisor.magnitude { return quotient }
            return quotient % 2 == 0 ? quotient : quotient + awayFromZero
        }
    }

    /// Creates an amount from whole minor units, as received from a payment provider.
    public static func fromMinorUnits(_ units: Int64, currency: Currency) throws(RechargeError) -> Money {
        let (micros, overflow) = units.multipliedReportingOverflow(by: currency.microsPerMinorUnit)
        if overflow { throw .amountOverflow }
        return Money(micros: micros, currency: currency)
    }

    /// Plain decimal text with at least the currency's minor digits: `10.50`, `0.000001`, `-3.00`, `500` (JPY).
    public var decimalString: String {
        let negative = micros < 0
        let magnitude = micros.magnitude
        let whole = magnitude / UInt64(Money.microsPerUnit)
        var fraction = String(magnitude % UInt64(Money.microsPerUnit))
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.count > currency.minorUnitDigits, fraction.hasSuffix("0") { fraction.removeLast() }
        let sign = negative ? "-" : ""
        return fraction.isEmpty ? "\(sign)\(whole)" : "\(sign)\(whole).\(fraction)"
    }

    public var description: String { "\(decimalString) \(currency.code)" }

    private func checkSameCurrency(_ other: Money) throws(RechargeError) {
        guard currency == other.currency else {
            throw .currencyMismatch(expected: currency.code, got: other.currency.code)
        }
    }

    static func parseMicros(_ text: String) throws(RechargeError) -> Int64 {
        var digits = Substring(text)
        var negative = false
        if digits.first == "-" || digits.first == "+" {
            negative = digits.first == "-"
            digits = digits.dropFirst()
        }
        let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let wholePart = parts.first, !wholePart.isEmpty,
              wholePart.allSatisfy({ $0.isASCII && $0.isNumber })
        else { throw .invalidAmount(text, reason: "not a decimal number") }
        var fractionPart = parts.count == 2 ? parts[1] : ""
        guard fractionPart.allSatisfy({ $0.isASCII && $0.isNumber }), parts.count == 1 || !fractionPart.isEmpty else {
            throw .invalidAmount(text, reason: "not a decimal number")
        }
        // Trailing zeros carry no precision: "1.5000000" is still exact in micro-units.
        while fractionPart.count > 6, fractionPart.last == "0" { fractionPart = fractionPart.dropLast() }
        guard fractionPart.count <= 6 else {
            throw .invalidAmount(text, reason: "more than 6 decimal places (micro-units are the smallest unit)")
        }
        let paddedFraction = String(fractionPart) + String(repeating: "0", count: 6 - fractionPart.count)
        guard let whole = Int64(wholePart), let fraction = Int64(paddedFraction) else { throw .amountOverflow }
        let (scaled, overflow1) = whole.multipliedReportingOverflow(by: microsPerUnit)
        let (total, overflow2) = scaled.addingReportingOverflow(fraction)
        if overflow1 || overflow2 { throw .amountOverflow }
        return negative ? -total : total
    }
}

/// How an amount in micro-units becomes whole minor units at the edge of the system.
public enum MinorUnitRounding: String, Sendable, CaseIterable, Codable {
    /// Banker's rounding: halves go to the even neighbour (no systematic drift over many amounts).
    case halfEven
    /// Commercial rounding: halves go away from zero.
    case halfUp
    /// Truncation: never charges or credits more than the exact amount.
    case towardZero
    /// Ceiling of the magnitude: never charges or credits less than the exact amount.
    case awayFromZero
}

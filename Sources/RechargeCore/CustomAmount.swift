import Foundation

/// Why a typed custom top-up amount cannot be used: each has its own localized message on the pages.
public enum CustomAmountRefusal: Error, Sendable, Equatable {
    /// Not a plain decimal number (`10`, `10.5`, `10.50`): letters, signs, exponents, two points, empty.
    case notANumber
    /// More digits after the point than the currency has (3 in USD, 1 in JPY).
    case tooManyDecimals(allowed: Int)
    case belowMinimum(Money)
    case aboveMaximum(Money)
    /// The catalog offers no custom amount in this currency.
    case notOffered(Currency)

    public var code: String {
        switch self {
        case .notANumber: "amount_not_a_number"
        case .tooManyDecimals: "amount_too_many_decimals"
        case .belowMinimum: "amount_below_minimum"
        case .aboveMaximum: "amount_above_maximum"
        case .notOffered: "amount_not_offered"
        }
    }
}

/// A custom top-up amount as a payer types it on a page, checked against the catalog's range for the line's
/// currency (``Catalog/customTopUp``) before anything is quoted, so each mistake gets its own message rather than
/// the order's generic refusal. The quote (``OrderQuote/customTopUp(_:catalog:lineCurrency:)``) checks the range
/// again: this is for telling the payer, not the guarantee.
public enum CustomAmount {
    /// `text` (surrounding spaces ignored; a decimal comma taken as a point, as many payers type it) as money in
    /// `currency`, within the catalog's range.
    public static func parse(_ text: String, currency: Currency, catalog: Catalog) throws(CustomAmountRefusal) -> Money {
        guard let range = catalog.customTopUp[currency] else { throw .notOffered(currency) }
        let typed = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: ",", with: ".")
        let parts = typed.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let whole = parts.first, !whole.isEmpty, whole.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
              parts.count == 1 || (!parts[1].isEmpty && parts[1].utf8.allSatisfy({ (0x30...0x39).contains($0) }))
        else { throw .notANumber }
        let decimals = parts.count == 2 ? parts[1].count : 0
        guard decimals <= currency.minorUnitDigits else { throw .tooManyDecimals(allowed: currency.minorUnitDigits) }
        let minimum = Money(micros: range.lowerBound, currency: currency)
        let maximum = Money(micros: range.upperBound, currency: currency)
        // Digits beyond what Int64 micro-units hold are an amount far above any maximum.
        guard whole.drop(while: { $0 == "0" }).count <= 12, let amount = try? Money(decimal: typed, currency: currency) else {
            throw .aboveMaximum(maximum)
        }
        guard amount.micros >= range.lowerBound else { throw .belowMinimum(minimum) }
        guard amount.micros <= range.upperBound else { throw .aboveMaximum(maximum) }
        return amount
    }
}

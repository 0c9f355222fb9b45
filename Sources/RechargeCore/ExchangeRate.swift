import Foundation

/// An exchange rate the operator quotes to payers in another currency, from the catalog file:
/// `{base: USD, quote: CNY, rate: "7.2345", source: "ops desk 2026-11-28 09:00", validMinutes: 15}` means
/// 1 USD costs 7.2345 CNY. An order paid this way stores the rate, its source and when the quote expires;
/// the line is credited exactly the base-currency amount, whatever the payer's currency.
public struct ExchangeRate: Sendable, Equatable {
    public let base: Currency
    public let quote: Currency
    /// Quote-currency units per base unit, in millionths (exact; at most six decimals in the file).
    public let rateMicros: Int64
    public let source: String
    public let validMinutes: Int

    public init(_ definition: CatalogDefinition.ExchangeRate) throws(RechargeError) {
        base = try Currency(code: definition.base)
        quote = try Currency(code: definition.quote)
        guard base != quote else { throw .invalidCatalog("fxRates: \(definition.base)/\(definition.quote) converts a currency to itself") }
        // The rate is read like an amount: exact decimal, at most six places.
        let micros = try Money(decimal: definition.rate, currency: quote).micros
        guard micros > 0 else { throw .invalidCatalog("fxRates: \(definition.base)/\(definition.quote) rate must be positive") }
        guard !definition.source.isEmpty, definition.source.count <= 200 else { throw .invalidCatalog("fxRates: a rate needs its source") }
        guard (1...1440).contains(definition.validMinutes) else { throw .invalidCatalog("fxRates: validMinutes must be 1 to 1440") }
        rateMicros = micros
        source = definition.source
        validMinutes = definition.validMinutes
    }

    public var definition: CatalogDefinition.ExchangeRate {
        .init(base: base.code, quote: quote.code, rate: Money(micros: rateMicros, currency: quote).decimalString, source: source, validMinutes: validMinutes)
    }

    /// `amount` (in `base`) in the quote currency, rounded up to the quote currency's minor unit: the one
    /// rounding of the conversion, in the operator's favour by at most one fen, named here.
    public func convert(_ amount: Money) throws(RechargeError) -> Money {
        guard amount.currency == base else { throw .currencyMismatch(expected: base.code, got: amount.currency.code) }
        let product = amount.micros.multipliedFullWidth(by: rateMicros)
        guard amount.micros >= 0, product.high < 500_000 else { throw .amountOverflow }
        let (quotient, remainder) = Int64(1_000_000).dividingFullWidth(product)
        let raw = Money(micros: quotient + (remainder > 0 ? 1 : 0), currency: quote)
        return Money(micros: raw.minorUnits(rounding: .awayFromZero) * quote.microsPerMinorUnit, currency: quote)
    }
}

extension CatalogDefinition {
    public struct ExchangeRate: Sendable, Equatable, Codable {
        public let base: String
        public let quote: String
        public let rate: String
        public let source: String
        public let validMinutes: Int

        public init(base: String, quote: String, rate: String, source: String, validMinutes: Int) {
            self.base = base
            self.quote = quote
            self.rate = rate
            self.source = source
            self.validMinutes = validMinutes
        }
    }
}

/// The rate an order was priced with, kept on the order.
public struct FXQuote: Sendable, Equatable, Codable {
    public let base: String
    public let quote: String
    public let rate: String
    public let source: String
    public let expiresAt: Date
}

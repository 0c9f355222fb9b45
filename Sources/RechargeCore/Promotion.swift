import Foundation

/// A promotion from the catalog: a recharge bonus by tier ("pay 50, get 5") or a discount on packs, either
/// automatic or unlocked by a discount code, inside an optional date window and usage limits.
///
/// Stacking, explicitly: an order gets at most one discount (the entered code's, else the best automatic
/// one) and at most one bonus (the best matching tier of the best bonus promotion); a bonus and a discount
/// may both apply. Bonuses are granted on top-ups, discounts on packs.
public struct Promotion: Sendable, Equatable, Identifiable {
    public enum Benefit: Sendable, Equatable {
        /// Bonus money in its own bucket with its own validity: the highest tier whose minimum the top-up reaches.
        case topUpBonus(tiers: [(minimum: Int64, bonus: Int64)], validityDays: Int)
        /// Whole percent off the pack price (rounded down to the minor unit, in the payer's favour never below zero).
        case percentOff(Int)
        /// A fixed amount off the pack price (never below one minor unit).
        case amountOff(Int64)

        public static func == (lhs: Benefit, rhs: Benefit) -> Bool {
            switch (lhs, rhs) {
            case (.topUpBonus(let a, let x), .topUpBonus(let b, let y)):
                x == y && a.count == b.count && zip(a, b).allSatisfy { $0.minimum == $1.minimum && $0.bonus == $1.bonus }
            case (.percentOff(let a), .percentOff(let b)): a == b
            case (.amountOff(let a), .amountOff(let b)): a == b
            default: false
            }
        }
    }

    public var id: String { code }
    public let code: String
    public let names: [String: String]
    public let currency: Currency
    public let benefit: Benefit
    /// Products it applies to; empty means every product of the kind the benefit suits.
    public let products: [String]
    /// When set, the promotion applies only to orders that enter this code (compared case-insensitively).
    public let discountCode: String?
    public let limitTotal: Int?
    public let limitPerLine: Int?
    public let startsAt: Date?
    public let endsAt: Date?

    public var isBonus: Bool { if case .topUpBonus = benefit { true } else { false } }
    public var hasLimits: Bool { limitTotal != nil || limitPerLine != nil }

    public func isRunning(at instant: Date) -> Bool {
        (startsAt.map { instant >= $0 } ?? true) && (endsAt.map { instant < $0 } ?? true)
    }

    func applies(toProduct code: String?) -> Bool { products.isEmpty || code.map(products.contains) == true }

    /// The bonus for a top-up of `credit`, if a tier is reached.
    public func bonus(for credit: Money) -> Money? {
        guard case .topUpBonus(let tiers, _) = benefit, credit.currency == currency else { return nil }
        guard let tier = tiers.filter({ credit.micros >= $0.minimum }).max(by: { $0.minimum < $1.minimum }) else { return nil }
        return Money(micros: tier.bonus, currency: currency)
    }

    /// The discount on a pack priced `price`: whole minor units, leaving at least one minor unit to pay.
    public func discount(on price: Money) -> Money? {
        guard price.currency == currency else { return nil }
        let unit = price.currency.microsPerMinorUnit
        let off: Int64
        switch benefit {
        case .topUpBonus: return nil
        case .percentOff(let percent): off = (price.micros / 100 * Int64(percent)) / unit * unit
        case .amountOff(let amount): off = amount
        }
        let capped = min(off, price.micros - unit)
        return capped > 0 ? Money(micros: capped, currency: currency) : nil
    }

    init(_ definition: CatalogDefinition.Promotion) throws(RechargeError) {
        guard (1...64).contains(definition.code.utf8.count),
              definition.code.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D })
        else { throw .invalidCatalog("promotion code must be 1 to 64 lower-case letters, digits or dashes") }
        guard definition.names["en"]?.isEmpty == false else { throw .invalidCatalog("promotion \(definition.code): names.en is required") }
        let currency = try Currency(code: definition.currency)
        func money(_ text: String, _ what: String) throws(RechargeError) -> Int64 {
            let value = try Money(decimal: text, currency: currency)
            guard value.isPositive, value.micros % currency.microsPerMinorUnit == 0, value.micros <= TopUpCommand.maximumAmount else {
                throw .invalidCatalog("promotion \(definition.code): \(what) must be a positive amount in whole minor units")
            }
            return value.micros
        }
        let benefits = [definition.tiers != nil, definition.percentOff != nil, definition.amountOff != nil].filter { $0 }.count
        guard benefits == 1 else { throw .invalidCatalog("promotion \(definition.code): give exactly one of tiers, percentOff, amountOff") }
        if let tiers = definition.tiers {
            guard !tiers.isEmpty else { throw .invalidCatalog("promotion \(definition.code): tiers is empty") }
            var parsed: [(minimum: Int64, bonus: Int64)] = []
            for tier in tiers { parsed.append((try money(tier.min, "tier min"), try money(tier.bonus, "tier bonus"))) }
            guard Set(parsed.map(\.minimum)).count == parsed.count else { throw .invalidCatalog("promotion \(definition.code): two tiers share a minimum") }
            guard let days = definition.bonusValidityDays, (1...3660).contains(days) else {
                throw .invalidCatalog("promotion \(definition.code): a bonus needs bonusValidityDays (1 to 3660)")
            }
            benefit = .topUpBonus(tiers: parsed.sorted { $0.minimum < $1.minimum }, validityDays: days)
        } else if let percent = definition.percentOff {
            guard (1...100).contains(percent) else { throw .invalidCatalog("promotion \(definition.code): percentOff must be 1 to 100") }
            benefit = .percentOff(percent)
        } else {
            benefit = .amountOff(try money(definition.amountOff ?? "", "amountOff"))
        }
        if let code = definition.discountCode {
            guard (3...32).contains(code.count), code.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
                throw .invalidCatalog("promotion \(definition.code): discountCode must be 3 to 32 letters, digits or dashes")
            }
        }
        if let limit = definition.limitTotal, limit < 1 { throw .invalidCatalog("promotion \(definition.code): limitTotal must be at least 1") }
        if let limit = definition.limitPerLine, limit < 1 { throw .invalidCatalog("promotion \(definition.code): limitPerLine must be at least 1") }
        func date(_ text: String?) throws(RechargeError) -> Date? {
            guard let text else { return nil }
            guard let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) else {
                throw .invalidCatalog("promotion \(definition.code): '\(text)' is not an RFC 3339 date-time")
            }
            return date
        }
        startsAt = try date(definition.startsAt)
        endsAt = try date(definition.endsAt)
        if let startsAt, let endsAt, endsAt <= startsAt { throw .invalidCatalog("promotion \(definition.code): endsAt must be after startsAt") }
        code = definition.code
        names = definition.names
        self.currency = currency
        products = definition.products ?? []
        discountCode = definition.discountCode?.uppercased()
        limitTotal = definition.limitTotal
        limitPerLine = definition.limitPerLine
    }

    public var definition: CatalogDefinition.Promotion {
        func text(_ micros: Int64) -> String { Money(micros: micros, currency: currency).decimalString }
        var tiers: [CatalogDefinition.Promotion.Tier]?
        var days: Int?
        var percent: Int?
        var amount: String?
        switch benefit {
        case .topUpBonus(let list, let validity):
            tiers = list.map { .init(min: text($0.minimum), bonus: text($0.bonus)) }
            days = validity
        case .percentOff(let value): percent = value
        case .amountOff(let value): amount = text(value)
        }
        return CatalogDefinition.Promotion(
            code: code, names: names, currency: currency.code, tiers: tiers, bonusValidityDays: days, percentOff: percent, amountOff: amount,
            products: products.isEmpty ? nil : products, discountCode: discountCode, limitTotal: limitTotal, limitPerLine: limitPerLine,
            startsAt: startsAt.map { $0.formatted(.iso8601) }, endsAt: endsAt.map { $0.formatted(.iso8601) })
    }
}

extension CatalogDefinition {
    /// A promotion as written in the catalog file.
    public struct Promotion: Sendable, Equatable, Codable {
        public struct Tier: Sendable, Equatable, Codable {
            public let min: String
            public let bonus: String
            public init(min: String, bonus: String) {
                self.min = min
                self.bonus = bonus
            }
        }

        public let code: String
        public let names: [String: String]
        public let currency: String
        public let tiers: [Tier]?
        public let bonusValidityDays: Int?
        public let percentOff: Int?
        public let amountOff: String?
        public let products: [String]?
        public let discountCode: String?
        public let limitTotal: Int?
        public let limitPerLine: Int?
        public let startsAt: String?
        public let endsAt: String?

        public init(code: String, names: [String: String], currency: String, tiers: [Tier]?, bonusValidityDays: Int?, percentOff: Int?,
                    amountOff: String?, products: [String]?, discountCode: String?, limitTotal: Int?, limitPerLine: Int?, startsAt: String?, endsAt: String?) {
            self.code = code
            self.names = names
            self.currency = currency
            self.tiers = tiers
            self.bonusValidityDays = bonusValidityDays
            self.percentOff = percentOff
            self.amountOff = amountOff
            self.products = products
            self.discountCode = discountCode
            self.limitTotal = limitTotal
            self.limitPerLine = limitPerLine
            self.startsAt = startsAt
            self.endsAt = endsAt
        }
    }
}

/// The promotions an order gets, chosen by the stacking rule in ``Promotion``.
public struct PromotionChoice: Sendable, Equatable {
    public let discount: (promotion: Promotion, amount: Money)?
    public let bonus: (promotion: Promotion, amount: Money)?

    public static func == (lhs: PromotionChoice, rhs: PromotionChoice) -> Bool {
        lhs.discount?.promotion == rhs.discount?.promotion && lhs.discount?.amount == rhs.discount?.amount
            && lhs.bonus?.promotion == rhs.bonus?.promotion && lhs.bonus?.amount == rhs.bonus?.amount
    }

    /// Picks for a quote. `enteredCode`, when given, must unlock a running promotion that applies, or the
    /// order is refused (a subscriber who typed a code must not silently pay full price).
    public static func choose(from promotions: [Promotion], product: Product?, listPrice: Money, credit: Money?,
                              enteredCode: String?, at instant: Date) throws(RechargeError) -> PromotionChoice {
        let running = promotions.filter { $0.isRunning(at: instant) }
        let productCode = product?.code
        let isPack = product?.kind == .pack
        var discount: (Promotion, Money)?
        var bonus: (Promotion, Money)?
        if let entered = enteredCode?.trimmingCharacters(in: .whitespaces).uppercased(), !entered.isEmpty {
            guard let promotion = promotions.first(where: { $0.discountCode == entered }) else {
                throw .promotionUnavailable(code: entered, reason: "no such code")
            }
            guard promotion.isRunning(at: instant) else { throw .promotionUnavailable(code: entered, reason: "not valid at this time") }
            guard promotion.applies(toProduct: productCode) else { throw .promotionUnavailable(code: entered, reason: "not valid for this product") }
            if promotion.isBonus {
                guard let credit, let amount = promotion.bonus(for: credit) else {
                    throw .promotionUnavailable(code: entered, reason: "the top-up is below the promotion's minimum")
                }
                bonus = (promotion, amount)
            } else {
                guard isPack, let amount = promotion.discount(on: listPrice) else {
                    throw .promotionUnavailable(code: entered, reason: "discounts apply to packs")
                }
                discount = (promotion, amount)
            }
        }
        let automatic = running.filter { $0.discountCode == nil && $0.applies(toProduct: productCode) }
        if discount == nil, isPack {
            discount = automatic.compactMap { promotion in promotion.discount(on: listPrice).map { (promotion, $0) } }
                .max { ($0.1.micros, $1.0.code) < ($1.1.micros, $0.0.code) }
        }
        if bonus == nil, let credit {
            bonus = automatic.compactMap { promotion in promotion.bonus(for: credit).map { (promotion, $0) } }
                .max { ($0.1.micros, $1.0.code) < ($1.1.micros, $0.0.code) }
        }
        return PromotionChoice(discount: discount.map { (promotion: $0.0, amount: $0.1) }, bonus: bonus.map { (promotion: $0.0, amount: $0.1) })
    }
}

import Foundation

/// A promotion from the catalog: a recharge bonus by tier ("pay 50, get 5"), bonus data, minutes or SMS ("recharge
/// 30, get 2 GB"), or a discount on packs or on top-ups; automatic or unlocked by a discount code, inside an optional
/// date window (written in the catalog's time zone, see ``CatalogTime``) and usage limits.
///
/// Stacking, explicitly: an order gets at most one discount (the entered code's, else the best automatic one), at
/// most one money bonus (the best matching tier of the best bonus promotion) and at most one bucket bonus (the
/// entered code's, else the automatic one with the highest minimum); all three may apply together. Money and bucket
/// bonuses are granted on top-ups; a discount applies to packs, or to top-ups when the promotion says
/// `discountOn: top_up` (the payer pays less; the line is credited in full, the difference funded by promotion
/// expense).
public struct Promotion: Sendable, Equatable, Identifiable {
    public enum Benefit: Sendable, Equatable {
        /// Bonus money in its own bucket with its own validity: the highest tier whose minimum the top-up reaches.
        case topUpBonus(tiers: [(minimum: Int64, bonus: Int64)], validityDays: Int)
        /// Buckets of data, voice or SMS, each with its own validity, for a top-up of at least `minimum`.
        case bucketBonus(minimum: Int64, grants: [BonusAllowance])
        /// Whole percent off the price (rounded down to the minor unit, in the payer's favour never below zero).
        case percentOff(Int)
        /// A fixed amount off the price (never below one minor unit).
        case amountOff(Int64)

        public static func == (lhs: Benefit, rhs: Benefit) -> Bool {
            switch (lhs, rhs) {
            case (.topUpBonus(let a, let x), .topUpBonus(let b, let y)):
                x == y && a.count == b.count && zip(a, b).allSatisfy { $0.minimum == $1.minimum && $0.bonus == $1.bonus }
            case (.bucketBonus(let a, let x), .bucketBonus(let b, let y)): a == b && x == y
            case (.percentOff(let a), .percentOff(let b)): a == b
            case (.amountOff(let a), .amountOff(let b)): a == b
            case (.topUpBonus, _), (.bucketBonus, _), (.percentOff, _), (.amountOff, _): false
            }
        }
    }

    public var id: String { code }
    public let code: String
    /// Display names per language (`en` required); ``name(language:)`` falls back to English.
    public let names: [String: String]
    /// Longer texts per language for the offers page (optional).
    public let descriptions: [String: String]
    public let currency: Currency
    public let benefit: Benefit
    /// Products it applies to; empty means every product of the kind the benefit suits.
    public let products: [String]
    /// When set, the promotion applies only to orders that enter this code (compared case-insensitively).
    public let discountCode: String?
    /// What a discount is taken off: packs (the default) or top-ups. Bonuses are always on top-ups.
    public let discountOn: Product.Kind
    public let limitTotal: Int?
    public let limitPerLine: Int?
    public let startsAt: Date?
    public let endsAt: Date?
    /// Shown on the public offers page. An automatic promotion is listed unless the catalog says `listed: false`; a
    /// promotion with a discount code only when the catalog says `listed: true` (a secret code is never shown).
    public let isListed: Bool
    /// The dates as the catalog wrote them (a local date-time stays local when the catalog is written back).
    let startsAtText: String?
    let endsAtText: String?
    let listedText: Bool?

    public var isBonus: Bool { if case .topUpBonus = benefit { true } else { false } }
    public var isBucketBonus: Bool { if case .bucketBonus = benefit { true } else { false } }
    public var isDiscount: Bool {
        switch benefit {
        case .percentOff, .amountOff: true
        case .topUpBonus, .bucketBonus: false
        }
    }
    public var hasLimits: Bool { limitTotal != nil || limitPerLine != nil }

    public func name(language: String) -> String { names[language] ?? names["en"] ?? code }
    public func description(language: String) -> String? { descriptions[language] ?? descriptions["en"] }

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

    /// The buckets granted for a top-up of `credit`, if it reaches the minimum.
    public func bonusAllowances(for credit: Money) -> [BonusAllowance]? {
        guard case .bucketBonus(let minimum, let grants) = benefit, credit.currency == currency, credit.micros >= minimum else { return nil }
        return grants
    }

    /// The discount on an item priced `price`: whole minor units, leaving at least one minor unit to pay.
    public func discount(on price: Money) -> Money? {
        guard price.currency == currency else { return nil }
        let unit = price.currency.microsPerMinorUnit
        let off: Int64
        switch benefit {
        case .topUpBonus, .bucketBonus: return nil
        case .percentOff(let percent): off = (price.micros / 100 * Int64(percent)) / unit * unit
        case .amountOff(let amount): off = amount
        }
        let capped = min(off, price.micros - unit)
        return capped > 0 ? Money(micros: capped, currency: currency) : nil
    }

    /// Checks a catalog entry; its dates are read in `timeZone` when they carry no offset.
    init(_ definition: CatalogDefinition.Promotion, timeZone: TimeZone = CatalogTime.utc) throws(RechargeError) {
        guard (1...64).contains(definition.code.utf8.count),
              definition.code.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D })
        else { throw .invalidCatalog("promotion code must be 1 to 64 lower-case letters, digits or dashes") }
        guard definition.names["en"]?.isEmpty == false else { throw .invalidCatalog("promotion \(definition.code): names.en is required") }
        try CatalogText.check(definition.names, field: "names", maximum: 120)
        try CatalogText.check(definition.descriptions ?? [:], field: "descriptions", maximum: 500)
        let currency = try Currency(code: definition.currency)
        func money(_ text: String, _ what: String) throws(RechargeError) -> Int64 {
            let value = try Money(decimal: text, currency: currency)
            guard value.isPositive, value.micros % currency.microsPerMinorUnit == 0, value.micros <= TopUpCommand.maximumAmount else {
                throw .invalidCatalog("promotion \(definition.code): \(what) must be a positive amount in whole minor units")
            }
            return value.micros
        }
        let benefits = [definition.tiers != nil, definition.percentOff != nil, definition.amountOff != nil, definition.bonusAllowances != nil]
            .filter { $0 }.count
        guard benefits == 1 else {
            throw .invalidCatalog("promotion \(definition.code): give exactly one of tiers, bonusAllowances, percentOff, amountOff")
        }
        if definition.minTopUp != nil, definition.bonusAllowances == nil {
            throw .invalidCatalog("promotion \(definition.code): minTopUp goes with bonusAllowances (tiers have their own minimums)")
        }
        if let tiers = definition.tiers {
            guard !tiers.isEmpty else { throw .invalidCatalog("promotion \(definition.code): tiers is empty") }
            var parsed: [(minimum: Int64, bonus: Int64)] = []
            for tier in tiers { parsed.append((try money(tier.min, "tier min"), try money(tier.bonus, "tier bonus"))) }
            guard Set(parsed.map(\.minimum)).count == parsed.count else { throw .invalidCatalog("promotion \(definition.code): two tiers share a minimum") }
            guard let days = definition.bonusValidityDays, (1...3660).contains(days) else {
                throw .invalidCatalog("promotion \(definition.code): a bonus needs bonusValidityDays (1 to 3660)")
            }
            benefit = .topUpBonus(tiers: parsed.sorted { $0.minimum < $1.minimum }, validityDays: days)
        } else if let allowances = definition.bonusAllowances {
            guard !allowances.isEmpty, allowances.count <= 8 else {
                throw .invalidCatalog("promotion \(definition.code): bonusAllowances needs 1 to 8 entries")
            }
            guard definition.bonusValidityDays == nil else {
                throw .invalidCatalog("promotion \(definition.code): each bonus allowance has its own validityDays")
            }
            var grants: [BonusAllowance] = []
            for (index, allowance) in allowances.enumerated() {
                do {
                    grants.append(try BonusAllowance(allowance))
                } catch {
                    throw .invalidCatalog("promotion \(definition.code): bonusAllowances[\(index)]: \(error.detail)")
                }
            }
            benefit = .bucketBonus(minimum: try definition.minTopUp.map { text throws(RechargeError) in try money(text, "minTopUp") } ?? 0,
                                   grants: grants)
        } else if let percent = definition.percentOff {
            guard (1...100).contains(percent) else { throw .invalidCatalog("promotion \(definition.code): percentOff must be 1 to 100") }
            benefit = .percentOff(percent)
        } else {
            benefit = .amountOff(try money(definition.amountOff ?? "", "amountOff"))
        }
        switch definition.discountOn {
        case nil, .pack: discountOn = .pack
        case .topUp:
            guard definition.percentOff != nil || definition.amountOff != nil else {
                throw .invalidCatalog("promotion \(definition.code): discountOn goes with percentOff or amountOff")
            }
            discountOn = .topUp
        case .plan: throw .invalidCatalog("promotion \(definition.code): discountOn is pack or top_up")
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
            switch CatalogTime.instant(text, in: timeZone) {
            case .success(let date): return date
            case .failure(.malformed):
                throw .invalidCatalog("promotion \(definition.code): '\(text)' is neither an RFC 3339 date-time nor a local yyyy-MM-ddTHH:mm[:ss]")
            case .failure(.skipped):
                throw .invalidCatalog("promotion \(definition.code): '\(text)' does not exist in \(timeZone.identifier) (the clocks skip it for daylight saving time)")
            }
        }
        startsAt = try date(definition.startsAt)
        endsAt = try date(definition.endsAt)
        if let startsAt, let endsAt, endsAt <= startsAt { throw .invalidCatalog("promotion \(definition.code): endsAt must be after startsAt") }
        code = definition.code
        names = definition.names
        descriptions = definition.descriptions ?? [:]
        self.currency = currency
        products = definition.products ?? []
        discountCode = definition.discountCode?.uppercased()
        limitTotal = definition.limitTotal
        limitPerLine = definition.limitPerLine
        startsAtText = definition.startsAt
        endsAtText = definition.endsAt
        listedText = definition.listed
        isListed = definition.listed ?? (definition.discountCode == nil)
    }

    public var definition: CatalogDefinition.Promotion {
        func text(_ micros: Int64) -> String { Money(micros: micros, currency: currency).decimalString }
        var tiers: [CatalogDefinition.Promotion.Tier]?
        var days: Int?
        var percent: Int?
        var amount: String?
        var allowances: [CatalogDefinition.Promotion.BonusAllowance]?
        var minimum: String?
        switch benefit {
        case .topUpBonus(let list, let validity):
            tiers = list.map { .init(min: text($0.minimum), bonus: text($0.bonus)) }
            days = validity
        case .bucketBonus(let least, let grants):
            allowances = grants.map(\.definition)
            minimum = least > 0 ? text(least) : nil
        case .percentOff(let value): percent = value
        case .amountOff(let value): amount = text(value)
        }
        return CatalogDefinition.Promotion(
            code: code, names: names, currency: currency.code, tiers: tiers, bonusValidityDays: days, percentOff: percent, amountOff: amount,
            products: products.isEmpty ? nil : products, discountCode: discountCode, limitTotal: limitTotal, limitPerLine: limitPerLine,
            startsAt: startsAtText, endsAt: endsAtText, descriptions: descriptions.isEmpty ? nil : descriptions, listed: listedText,
            discountOn: discountOn == .topUp ? .topUp : nil, minTopUp: minimum, bonusAllowances: allowances)
    }
}

/// A bucket a promotion grants: data, minutes or SMS with its own validity, and optionally where it works (shown to
/// the subscriber as packs' coverage is).
public struct BonusAllowance: Sendable, Equatable, Codable {
    public let kind: BucketKind
    /// Bytes, seconds or SMS.
    public let amount: Int64
    public let validityDays: Int
    public let coverageName: String?
    public let countries: [String]?

    public init(kind: BucketKind, amount: Int64, validityDays: Int, coverageName: String? = nil, countries: [String]? = nil) {
        self.kind = kind
        self.amount = amount
        self.validityDays = validityDays
        self.coverageName = coverageName
        self.countries = countries
    }

    init(_ definition: CatalogDefinition.Promotion.BonusAllowance) throws(RechargeError) {
        guard definition.kind != .monetary else { throw .invalidCatalog("use tiers for bonus money") }
        let amount = try Quantity.parse(definition.amount, kind: definition.kind)
        guard amount > 0, amount <= TopUpCommand.maximumAmount else { throw .invalidCatalog("amount must be positive") }
        guard (1...3660).contains(definition.validityDays) else { throw .invalidCatalog("validityDays must be 1 to 3660") }
        var countries: [String]?
        if let coverage = definition.coverage {
            let codes = coverage.countries.map { $0.uppercased() }
            guard !coverage.name.isEmpty, !codes.isEmpty, codes.allSatisfy({ $0.utf8.count == 2 && $0.utf8.allSatisfy { $0 >= 0x41 && $0 <= 0x5A } })
            else { throw .invalidCatalog("coverage needs a name and ISO 3166 alpha-2 country codes") }
            countries = codes
        }
        self.init(kind: definition.kind, amount: amount, validityDays: definition.validityDays, coverageName: definition.coverage?.name,
                  countries: countries)
    }

    var definition: CatalogDefinition.Promotion.BonusAllowance {
        .init(kind: kind, amount: Quantity.format(amount, kind: kind), validityDays: validityDays,
              coverage: coverageName.map { .init(name: $0, countries: countries ?? []) })
    }
}

/// Display texts per language in a catalog.
enum CatalogText {
    static func check(_ texts: [String: String], field: String, maximum: Int) throws(RechargeError) {
        for (language, text) in texts {
            guard SubscriberDetails.languages.contains(language) else { throw .invalidCatalog("\(field).\(language): unknown language") }
            guard (1...maximum).contains(text.count) else { throw .invalidCatalog("\(field).\(language) must be 1 to \(maximum) characters") }
        }
    }
}

extension CatalogDefinition {
    /// A promotion as written in the catalog file. `names`/`descriptions` are the canonical spelling; `name`/
    /// `description` (the same per-language mapping) are read too.
    public struct Promotion: Sendable, Equatable, Codable {
        public struct Tier: Sendable, Equatable, Codable {
            public let min: String
            public let bonus: String
            public init(min: String, bonus: String) {
                self.min = min
                self.bonus = bonus
            }
        }

        public struct BonusAllowance: Sendable, Equatable, Codable {
            public let kind: BucketKind
            public let amount: String
            public let validityDays: Int
            public let coverage: Product.Coverage?
            public init(kind: BucketKind, amount: String, validityDays: Int, coverage: Product.Coverage? = nil) {
                self.kind = kind
                self.amount = amount
                self.validityDays = validityDays
                self.coverage = coverage
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
        public let descriptions: [String: String]?
        public let listed: Bool?
        public let discountOn: RechargeCore.Product.Kind?
        public let minTopUp: String?
        public let bonusAllowances: [BonusAllowance]?

        public init(code: String, names: [String: String], currency: String, tiers: [Tier]?, bonusValidityDays: Int?, percentOff: Int?,
                    amountOff: String?, products: [String]?, discountCode: String?, limitTotal: Int?, limitPerLine: Int?, startsAt: String?, endsAt: String?,
                    descriptions: [String: String]? = nil, listed: Bool? = nil, discountOn: RechargeCore.Product.Kind? = nil, minTopUp: String? = nil,
                    bonusAllowances: [BonusAllowance]? = nil) {
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
            self.descriptions = descriptions
            self.listed = listed
            self.discountOn = discountOn
            self.minTopUp = minTopUp
            self.bonusAllowances = bonusAllowances
        }

        private enum CodingKeys: String, CodingKey {
            case code, names, name, currency, tiers, bonusValidityDays, percentOff, amountOff, products, discountCode, limitTotal, limitPerLine
            case startsAt, endsAt, descriptions, description, listed, discountOn, minTopUp, bonusAllowances
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            code = try c.decode(String.self, forKey: .code)
            names = try CatalogDefinition.texts(c, canonical: .names, alias: .name, required: true) ?? [:]
            currency = try c.decode(String.self, forKey: .currency)
            tiers = try c.decodeIfPresent([Tier].self, forKey: .tiers)
            bonusValidityDays = try c.decodeIfPresent(Int.self, forKey: .bonusValidityDays)
            percentOff = try c.decodeIfPresent(Int.self, forKey: .percentOff)
            amountOff = try c.decodeIfPresent(String.self, forKey: .amountOff)
            products = try c.decodeIfPresent([String].self, forKey: .products)
            discountCode = try c.decodeIfPresent(String.self, forKey: .discountCode)
            limitTotal = try c.decodeIfPresent(Int.self, forKey: .limitTotal)
            limitPerLine = try c.decodeIfPresent(Int.self, forKey: .limitPerLine)
            startsAt = try c.decodeIfPresent(String.self, forKey: .startsAt)
            endsAt = try c.decodeIfPresent(String.self, forKey: .endsAt)
            descriptions = try CatalogDefinition.texts(c, canonical: .descriptions, alias: .description, required: false)
            listed = try c.decodeIfPresent(Bool.self, forKey: .listed)
            discountOn = try c.decodeIfPresent(RechargeCore.Product.Kind.self, forKey: .discountOn)
            minTopUp = try c.decodeIfPresent(String.self, forKey: .minTopUp)
            bonusAllowances = try c.decodeIfPresent([BonusAllowance].self, forKey: .bonusAllowances)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(code, forKey: .code)
            try c.encode(names, forKey: .names)
            try c.encode(currency, forKey: .currency)
            try c.encodeIfPresent(tiers, forKey: .tiers)
            try c.encodeIfPresent(bonusValidityDays, forKey: .bonusValidityDays)
            try c.encodeIfPresent(percentOff, forKey: .percentOff)
            try c.encodeIfPresent(amountOff, forKey: .amountOff)
            try c.encodeIfPresent(products, forKey: .products)
            try c.encodeIfPresent(discountCode, forKey: .discountCode)
            try c.encodeIfPresent(limitTotal, forKey: .limitTotal)
            try c.encodeIfPresent(limitPerLine, forKey: .limitPerLine)
            try c.encodeIfPresent(startsAt, forKey: .startsAt)
            try c.encodeIfPresent(endsAt, forKey: .endsAt)
            try c.encodeIfPresent(descriptions, forKey: .descriptions)
            try c.encodeIfPresent(listed, forKey: .listed)
            try c.encodeIfPresent(discountOn, forKey: .discountOn)
            try c.encodeIfPresent(minTopUp, forKey: .minTopUp)
            try c.encodeIfPresent(bonusAllowances, forKey: .bonusAllowances)
        }
    }

    /// A per-language text mapping under its canonical key or its alias (`names`/`name`, `descriptions`/`description`),
    /// not both.
    static func texts<Key: CodingKey>(_ container: KeyedDecodingContainer<Key>, canonical: Key, alias: Key,
                                      required: Bool) throws -> [String: String]? {
        let main = try container.decodeIfPresent([String: String].self, forKey: canonical)
        let other = try container.decodeIfPresent([String: String].self, forKey: alias)
        if main != nil, other != nil {
            throw DecodingError.dataCorruptedError(forKey: alias, in: container,
                                                   debugDescription: "give '\(canonical.stringValue)' or '\(alias.stringValue)', not both")
        }
        if required, main == nil, other == nil {
            throw DecodingError.keyNotFound(canonical, .init(codingPath: container.codingPath, debugDescription: "required"))
        }
        return main ?? other
    }
}
/// The promotions an order gets, chosen by the stacking rule in ``Promotion``.
public struct PromotionChoice: Sendable, Equatable {
    public let discount: (promotion: Promotion, amount: Money)?
    public let bonus: (promotion: Promotion, amount: Money)?
    /// The bucket bonus and the buckets it grants.
    public let bucketBonus: (promotion: Promotion, grants: [BonusAllowance])?

    public init(discount: (promotion: Promotion, amount: Money)?, bonus: (promotion: Promotion, amount: Money)?,
                bucketBonus: (promotion: Promotion, grants: [BonusAllowance])? = nil) {
        self.discount = discount
        self.bonus = bonus
        self.bucketBonus = bucketBonus
    }

    public static func == (lhs: PromotionChoice, rhs: PromotionChoice) -> Bool {
        lhs.discount?.promotion == rhs.discount?.promotion && lhs.discount?.amount == rhs.discount?.amount
            && lhs.bonus?.promotion == rhs.bonus?.promotion && lhs.bonus?.amount == rhs.bonus?.amount
            && lhs.bucketBonus?.promotion == rhs.bucketBonus?.promotion && lhs.bucketBonus?.grants == rhs.bucketBonus?.grants
    }

    /// The applied promotions in the order their uses are taken: discount, money bonus, bucket bonus.
    public var applied: [Promotion] { [discount?.promotion, bonus?.promotion, bucketBonus?.promotion].compactMap { $0 } }

    /// Picks for a quote. `enteredCode`, when given, must unlock a running promotion that applies, or the
    /// order is refused (a subscriber who typed a code must not silently pay full price).
    /// `excluding`: automatic promotions found used up (their limits reached): they no longer apply.
    public static func choose(from promotions: [Promotion], product: Product?, listPrice: Money, credit: Money?,
                              enteredCode: String?, at instant: Date, excluding: Set<String> = []) throws(RechargeError) -> PromotionChoice {
        let running = promotions.filter { $0.isRunning(at: instant) }
        let productCode = product?.code
        // A custom amount (no product) is a top-up.
        let kind = product?.kind ?? .topUp
        var discount: (Promotion, Money)?
        var bonus: (Promotion, Money)?
        var bucketBonus: (Promotion, [BonusAllowance])?
        if let entered = enteredCode?.trimmingCharacters(in: .whitespaces).uppercased(), !entered.isEmpty {
            guard let promotion = promotions.first(where: { $0.discountCode == entered }) else {
                throw .promotionUnavailable(code: entered, reason: "no such code")
            }
            guard promotion.isRunning(at: instant) else { throw .promotionUnavailable(code: entered, reason: "not valid at this time") }
            guard promotion.applies(toProduct: productCode) else { throw .promotionUnavailable(code: entered, reason: "not valid for this product") }
            switch promotion.benefit {
            case .topUpBonus:
                guard let credit, let amount = promotion.bonus(for: credit) else {
                    throw .promotionUnavailable(code: entered, reason: "the top-up is below the promotion's minimum")
                }
                bonus = (promotion, amount)
            case .bucketBonus:
                guard let credit, let grants = promotion.bonusAllowances(for: credit) else {
                    throw .promotionUnavailable(code: entered, reason: "the top-up is below the promotion's minimum")
                }
                bucketBonus = (promotion, grants)
            case .percentOff, .amountOff:
                guard kind == promotion.discountOn, let amount = promotion.discount(on: listPrice) else {
                    throw .promotionUnavailable(code: entered, reason: promotion.discountOn == .topUp ? "this discount applies to top-ups" : "discounts apply to packs")
                }
                discount = (promotion, amount)
            }
        }
        let automatic = running.filter { $0.discountCode == nil && !excluding.contains($0.code) && $0.applies(toProduct: productCode) }
        if discount == nil, kind == .pack || kind == .topUp {
            discount = automatic.filter { $0.discountOn == kind }.compactMap { promotion in promotion.discount(on: listPrice).map { (promotion, $0) } }
                .max { ($0.1.micros, $1.0.code) < ($1.1.micros, $0.0.code) }
        }
        if bonus == nil, let credit {
            bonus = automatic.compactMap { promotion in promotion.bonus(for: credit).map { (promotion, $0) } }
                .max { ($0.1.micros, $1.0.code) < ($1.1.micros, $0.0.code) }
        }
        if bucketBonus == nil, let credit {
            // The most specific: the highest minimum the top-up reaches, then the first code alphabetically.
            bucketBonus = automatic.compactMap { promotion -> (Promotion, [BonusAllowance], Int64)? in
                guard case .bucketBonus(let minimum, _) = promotion.benefit, let grants = promotion.bonusAllowances(for: credit) else { return nil }
                return (promotion, grants, minimum)
            }
            .max { ($0.2, $1.0.code) < ($1.2, $0.0.code) }
            .map { ($0.0, $0.1) }
        }
        return PromotionChoice(discount: discount.map { (promotion: $0.0, amount: $0.1) }, bonus: bonus.map { (promotion: $0.0, amount: $0.1) },
                               bucketBonus: bucketBonus.map { (promotion: $0.0, grants: $0.1) })
    }
}

/// What the public offers page lists: the listed promotions running now and those starting within a window, each
/// list soonest-ending (running) or soonest-starting (upcoming) first. Pure, so the rule is tested without a server.
public struct OfferListing: Sendable, Equatable {
    public let running: [Promotion]
    public let upcoming: [Promotion]

    /// How far ahead "starting soon" looks by default.
    public static let defaultHorizon: TimeInterval = 30 * 86_400

    public init(_ promotions: [Promotion], at instant: Date, horizon: TimeInterval = defaultHorizon) {
        let listed = promotions.filter(\.isListed)
        running = listed.filter { $0.isRunning(at: instant) }
            .sorted { ($0.endsAt ?? .distantFuture, $0.code) < ($1.endsAt ?? .distantFuture, $1.code) }
        upcoming = listed.filter { promotion in
            guard let start = promotion.startsAt else { return false }
            return start > instant && start <= instant.addingTimeInterval(horizon)
        }
        .sorted { ($0.startsAt ?? .distantPast, $0.code) < ($1.startsAt ?? .distantPast, $1.code) }
    }
}

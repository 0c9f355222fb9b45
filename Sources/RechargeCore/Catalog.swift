import Foundation

/// What an operator sells. A catalog file (YAML or JSON) decodes into ``CatalogDefinition``; ``Catalog``
/// checks it and turns every amount into exact integers, so nothing later parses a price again.
public struct Catalog: Sendable, Equatable {
    /// Allowed amounts of a custom top-up ("any amount from 5 to 500"), per currency.
    public let customTopUp: [Currency: ClosedRange<Int64>]
    /// In file order.
    public let products: [Product]
    public let promotions: [Promotion]
    public let exchangeRates: [ExchangeRate]
    /// The operator's time zone (IANA): promotion dates without an offset are read in it, and pages show dates in it.
    public let timeZone: TimeZone
    /// What usage costs (tariffs, roaming zones, free numbers), as the catalog file's `rating` section defines it; nil:
    /// the operator rates nothing, and live charging answers every chargeable request with a rating failure.
    public let rating: RatingDefinition?
    /// `rating`, checked, its time bands in ``timeZone``.
    public let ratingTable: RatingTable?

    /// Grant sizes and validity for live charging sessions.
    public var chargingQuota: ChargingQuota { rating?.quota ?? .standard }

    public init(customTopUp: [Currency: ClosedRange<Int64>], products: [Product], promotions: [Promotion] = [],
                exchangeRates: [ExchangeRate] = [], timeZone: TimeZone = CatalogTime.utc, rating: RatingDefinition? = nil) throws(RechargeError) {
        self.rating = rating
        self.ratingTable = try rating?.table(timeZone: timeZone)
        var seen = Set<String>()
        for product in products where !seen.insert(product.code).inserted {
            throw .invalidCatalog("product code '\(product.code)' appears twice")
        }
        var promotionCodes = Set<String>()
        var discountCodes = Set<String>()
        for promotion in promotions {
            guard promotionCodes.insert(promotion.code).inserted else { throw .invalidCatalog("promotion '\(promotion.code)' appears twice") }
            if let code = promotion.discountCode, !discountCodes.insert(code).inserted {
                throw .invalidCatalog("discount code '\(code)' is used by two promotions")
            }
            for product in promotion.products where !seen.contains(product) {
                throw .invalidCatalog("promotion \(promotion.code) names unknown product '\(product)'")
            }
        }
        var pairs = Set<String>()
        for rate in exchangeRates where !pairs.insert("\(rate.base.code)/\(rate.quote.code)").inserted {
            throw .invalidCatalog("fxRates: \(rate.base.code)/\(rate.quote.code) appears twice")
        }
        self.customTopUp = customTopUp
        self.products = products
        self.promotions = promotions
        self.exchangeRates = exchangeRates
        self.timeZone = timeZone
    }

    public func exchangeRate(from base: Currency, to quote: Currency) -> ExchangeRate? {
        exchangeRates.first { $0.base == base && $0.quote == quote }
    }

    public func product(_ code: String) -> Product? { products.first { $0.code == code } }

    /// The names, per language, of the product or promotion a bucket was granted under: buckets keep the English
    /// name (at most 100 characters) as the ledger's label, and pages show it in the reader's language.
    public func displayNames(ofBucket name: String) -> [String: String]? {
        func matches(_ names: [String: String]) -> Bool { names["en"].map { $0 == name || String($0.prefix(100)) == name } ?? false }
        return products.first { matches($0.names) }?.names ?? promotions.first { matches($0.names) }?.names
    }

    /// Checks a catalog file's content.
    public init(_ definition: CatalogDefinition) throws(RechargeError) {
        var ranges: [Currency: ClosedRange<Int64>] = [:]
        for (code, range) in definition.customTopUp ?? [:] {
            let currency = try Currency(code: code)
            let minimum = try Money(decimal: range.min, currency: currency).micros
            let maximum = try Money(decimal: range.max, currency: currency).micros
            guard minimum > 0, minimum <= maximum, maximum <= TopUpCommand.maximumAmount else {
                throw .invalidCatalog("customTopUp.\(code): min must be positive and not above max")
            }
            ranges[currency] = minimum...maximum
        }
        var products: [Product] = []
        for (index, product) in definition.products.enumerated() {
            do {
                products.append(try Product(product))
            } catch {
                throw .invalidCatalog("products[\(index)] (\(product.code)): \(error.detail)")
            }
        }
        let timeZone = try CatalogTime.timeZone(definition.timeZone)
        var promotions: [Promotion] = []
        for (index, promotion) in (definition.promotions ?? []).enumerated() {
            do {
                promotions.append(try Promotion(promotion, timeZone: timeZone))
            } catch {
                throw .invalidCatalog("promotions[\(index)]: \(error.detail)")
            }
        }
        var rates: [ExchangeRate] = []
        for rate in definition.fxRates ?? [] { rates.append(try ExchangeRate(rate)) }
        try self.init(customTopUp: ranges, products: products, promotions: promotions, exchangeRates: rates, timeZone: timeZone,
                      rating: definition.rating)
    }

    public var definition: CatalogDefinition {
        CatalogDefinition(
            customTopUp: customTopUp.isEmpty ? nil : Dictionary(uniqueKeysWithValues: customTopUp.map { currency, range in
                (currency.code, CatalogDefinition.Range(
                    min: Money(micros: range.lowerBound, currency: currency).decimalString,
                    max: Money(micros: range.upperBound, currency: currency).decimalString))
            }),
            products: products.map(\.definition),
            promotions: promotions.isEmpty ? nil : promotions.map(\.definition),
            fxRates: exchangeRates.isEmpty ? nil : exchangeRates.map(\.definition),
            timeZone: CatalogTime.isUTC(timeZone) ? nil : timeZone.identifier, rating: rating)
    }

    /// The public offers: listed promotions running at `instant` and starting within `horizon`.
    public func offers(at instant: Date, horizon: TimeInterval = OfferListing.defaultHorizon) -> OfferListing {
        OfferListing(promotions, at: instant, horizon: horizon)
    }
}

/// One thing for sale: a top-up denomination, a pack of allowances, or a plan.
public struct Product: Sendable, Equatable, Identifiable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// Money for the main balance: the customer pays `price` and is credited `credit`.
        case topUp = "top_up"
        /// Data, minutes and/or SMS with a validity, bought once (or renewed automatically).
        case pack
        /// A monthly plan: prepaid (price charged each period, allowances granted) or postpaid.
        case plan
    }

    /// An allowance a pack or plan grants, in the ledger's units (bytes, seconds, SMS).
    public struct Allowance: Sendable, Equatable {
        public let kind: BucketKind
        public let amount: Int64
        public init(kind: BucketKind, amount: Int64) {
            self.kind = kind
            self.amount = amount
        }
    }

    /// Where a pack works: a name people know ("US", "North America", "Global") and its ISO 3166 countries.
    public struct Coverage: Sendable, Equatable {
        public let name: String
        public let countries: [String]
    }

    /// What a plan is beyond its price: postpaid plans bill a monthly fee and rate usage past the allowance.
    public struct PlanTerms: Sendable, Equatable {
        public enum Billing: String, Sendable, Codable { case prepaid, postpaid }
        public let billing: Billing
        /// Price per overage unit, in micro-units of the plan's currency: per MB of data, per minute, per SMS.
        public let overagePerMegabyte: Int64?
        public let overagePerMinute: Int64?
        public let overagePerSMS: Int64?
    }

    public var id: String { code }
    /// Stable identifier used by orders and the API: lower-case letters, digits and dashes.
    public let code: String
    public let kind: Kind
    /// Display names per language (`en` is required; `zh-Hans` is expected).
    public let names: [String: String]
    /// Longer texts per language (optional), shown where the product is offered.
    public let descriptions: [String: String]
    /// What the customer pays, per currency.
    public let prices: [Currency: Money]
    /// For top-ups: what the line is credited (in the line's currency), usually equal to the price.
    public let credit: Money?
    public let allowances: [Allowance]
    public let validityDays: Int?
    public let coverage: Coverage?
    public let autoRenew: Bool
    public let plan: PlanTerms?
    public let active: Bool

    /// The name in `language`, else the default language's (English), else the code.
    public func name(language: String) -> String { names[language] ?? names["en"] ?? code }
    public func description(language: String) -> String? { descriptions[language] ?? descriptions["en"] }

    public func price(in currency: Currency) -> Money? { prices[currency] }

    init(_ definition: CatalogDefinition.Product) throws(RechargeError) {
        let code = definition.code
        guard (1...64).contains(code.utf8.count),
              code.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D })
        else { throw .invalidCatalog("code must be 1 to 64 lower-case letters, digits or dashes") }
        guard let english = definition.names["en"], !english.isEmpty else { throw .invalidCatalog("names.en is required") }
        try CatalogText.check(definition.names, field: "names", maximum: 120)
        try CatalogText.check(definition.descriptions ?? [:], field: "descriptions", maximum: 500)
        var prices: [Currency: Money] = [:]
        for (currencyCode, text) in definition.prices {
            let price = try Money(decimal: text, currency: try Currency(code: currencyCode))
            guard price.isPositive, price.micros <= TopUpCommand.maximumAmount else {
                throw .invalidCatalog("prices.\(currencyCode) must be positive")
            }
            guard price.micros % price.currency.microsPerMinorUnit == 0 else {
                throw .invalidCatalog("prices.\(currencyCode) has more decimals than \(currencyCode) has minor units")
            }
            prices[price.currency] = price
        }
        guard !prices.isEmpty else { throw .invalidCatalog("at least one price is required") }

        var credit: Money?
        if let text = definition.credit {
            guard let (currencyCode, value) = text.first, text.count == 1 else {
                throw .invalidCatalog("credit names exactly one currency")
            }
            let money = try Money(decimal: value, currency: try Currency(code: currencyCode))
            guard money.isPositive, money.micros <= TopUpCommand.maximumAmount else { throw .invalidCatalog("credit must be positive") }
            credit = money
        }
        var allowances: [Allowance] = []
        for (index, allowance) in (definition.allowances ?? []).enumerated() {
            guard allowance.kind != .monetary else { throw .invalidCatalog("allowances[\(index)]: use credit for money") }
            let amount = try Quantity.parse(allowance.amount, kind: allowance.kind)
            guard amount > 0, amount <= TopUpCommand.maximumAmount else { throw .invalidCatalog("allowances[\(index)]: amount must be positive") }
            allowances.append(Allowance(kind: allowance.kind, amount: amount))
        }
        if let days = definition.validityDays, !(1...3660).contains(days) {
            throw .invalidCatalog("validityDays must be 1 to 3660")
        }
        var coverage: Coverage?
        if let definitionCoverage = definition.coverage {
            let countries = definitionCoverage.countries.map { $0.uppercased() }
            guard !definitionCoverage.name.isEmpty, !countries.isEmpty,
                  countries.allSatisfy({ $0.utf8.count == 2 && $0.utf8.allSatisfy { $0 >= 0x41 && $0 <= 0x5A } })
            else { throw .invalidCatalog("coverage needs a name and ISO 3166 alpha-2 country codes") }
            coverage = Coverage(name: definitionCoverage.name, countries: countries)
        }
        var plan: PlanTerms?
        if let terms = definition.plan {
            guard let currency = prices.keys.sorted(by: { $0.code < $1.code }).first else { throw .invalidCatalog("a plan needs a price") }
            func rate(_ text: String?) throws(RechargeError) -> Int64? {
                guard let text else { return nil }
                let money = try Money(decimal: text, currency: currency)
                guard !money.isNegative else { throw .invalidCatalog("overage rates cannot be negative") }
                return money.micros
            }
            plan = PlanTerms(billing: terms.billing, overagePerMegabyte: try rate(terms.overagePerMegabyte),
                             overagePerMinute: try rate(terms.overagePerMinute), overagePerSMS: try rate(terms.overagePerSMS))
        }

        switch definition.kind {
        case .topUp:
            guard allowances.isEmpty, plan == nil else { throw .invalidCatalog("a top-up has a credit, not allowances or plan terms") }
            guard let credit else { throw .invalidCatalog("a top-up needs a credit") }
            _ = credit
        case .pack:
            guard credit == nil, plan == nil else { throw .invalidCatalog("a pack has allowances, not a credit or plan terms") }
            guard !allowances.isEmpty else { throw .invalidCatalog("a pack needs at least one allowance") }
            guard definition.validityDays != nil else { throw .invalidCatalog("a pack needs validityDays") }
        case .plan:
            guard credit == nil else { throw .invalidCatalog("a plan has allowances and a price, not a credit") }
            guard plan != nil else { throw .invalidCatalog("a plan needs plan terms (billing: prepaid or postpaid)") }
        }
        self.code = code
        self.kind = definition.kind
        self.names = definition.names
        self.descriptions = definition.descriptions ?? [:]
        self.prices = prices
        self.credit = credit
        self.allowances = allowances
        self.validityDays = definition.validityDays
        self.coverage = coverage
        self.autoRenew = definition.autoRenew ?? false
        self.plan = plan
        self.active = definition.active ?? true
    }

    /// The product written back as its catalog entry (what the store keeps and `catalog list` prints).
    public var definition: CatalogDefinition.Product {
        CatalogDefinition.Product(
            code: code, kind: kind, names: names,
            prices: Dictionary(uniqueKeysWithValues: prices.map { ($0.key.code, $0.value.decimalString) }),
            credit: credit.map { [$0.currency.code: $0.decimalString] },
            allowances: allowances.isEmpty ? nil : allowances.map { .init(kind: $0.kind, amount: Quantity.format($0.amount, kind: $0.kind)) },
            validityDays: validityDays,
            coverage: coverage.map { .init(name: $0.name, countries: $0.countries) },
            autoRenew: autoRenew ? true : nil,
            plan: plan.map { terms in
                let currency = prices.keys.sorted(by: { $0.code < $1.code }).first ?? .usd
                func text(_ micros: Int64?) -> String? { micros.map { Money(micros: $0, currency: currency).decimalString } }
                return .init(billing: terms.billing, overagePerMegabyte: text(terms.overagePerMegabyte),
                             overagePerMinute: text(terms.overagePerMinute), overagePerSMS: text(terms.overagePerSMS))
            },
            active: active ? nil : false, descriptions: descriptions.isEmpty ? nil : descriptions)
    }
}

/// Allowance amounts as people write them in a catalog: `5GB`, `500MB`, `100min`, `300` (SMS), or a plain
/// number of bytes / seconds. Data units are binary (1 GB = 2^30 bytes), as carriers bill and as messages show.
public enum Quantity {
    public static func parse(_ text: String, kind: BucketKind) throws(RechargeError) -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        let suffix = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
        guard !digits.isEmpty, digits.count <= 16, let number = Int64(digits) else {
            throw .invalidCatalog("'\(text)' is not a whole amount")
        }
        let multiplier: Int64
        switch (kind, suffix) {
        case (.data, ""), (.data, "b"): multiplier = 1
        case (.data, "kb"): multiplier = 1 << 10
        case (.data, "mb"): multiplier = 1 << 20
        case (.data, "gb"): multiplier = 1 << 30
        case (.data, "tb"): multiplier = 1 << 40
        case (.voice, ""), (.voice, "s"): multiplier = 1
        case (.voice, "min"): multiplier = 60
        case (.sms, ""), (.sms, "sms"): multiplier = 1
        default: throw .invalidCatalog("'\(text)': unknown unit for \(kind.rawValue)")
        }
        let (value, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { throw .amountOverflow }
        return value
    }

    /// The shortest exact spelling `parse` reads back.
    public static func format(_ amount: Int64, kind: BucketKind) -> String {
        switch kind {
        case .data:
            for (size, unit) in [(Int64(1) << 40, "TB"), (1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "KB")] where amount % size == 0 {
                return "\(amount / size)\(unit)"
            }
            return String(amount)
        case .voice: return amount % 60 == 0 ? "\(amount / 60)min" : "\(amount)s"
        case .sms, .monetary: return String(amount)
        }
    }
}

/// A catalog file as written by an operator (YAML or JSON). Amounts are decimal strings, never floats.
public struct CatalogDefinition: Sendable, Equatable, Codable {
    public struct Range: Sendable, Equatable, Codable {
        public let min: String
        public let max: String
        public init(min: String, max: String) {
            self.min = min
            self.max = max
        }
    }

    public struct Product: Sendable, Equatable, Codable {
        public struct Allowance: Sendable, Equatable, Codable {
            public let kind: BucketKind
            public let amount: String
            public init(kind: BucketKind, amount: String) {
                self.kind = kind
                self.amount = amount
            }
        }
        public struct Coverage: Sendable, Equatable, Codable {
            public let name: String
            public let countries: [String]
            public init(name: String, countries: [String]) {
                self.name = name
                self.countries = countries
            }
        }
        public struct Plan: Sendable, Equatable, Codable {
            public let billing: RechargeCore.Product.PlanTerms.Billing
            public let overagePerMegabyte: String?
            public let overagePerMinute: String?
            public let overagePerSMS: String?
            public init(billing: RechargeCore.Product.PlanTerms.Billing, overagePerMegabyte: String?, overagePerMinute: String?, overagePerSMS: String?) {
                self.billing = billing
                self.overagePerMegabyte = overagePerMegabyte
                self.overagePerMinute = overagePerMinute
                self.overagePerSMS = overagePerSMS
            }
        }

        public let code: String
        public let kind: RechargeCore.Product.Kind
        public let names: [String: String]
        public let prices: [String: String]
        public let credit: [String: String]?
        public let allowances: [Allowance]?
        public let validityDays: Int?
        public let coverage: Coverage?
        public let autoRenew: Bool?
        public let plan: Plan?
        public let active: Bool?
        public let descriptions: [String: String]?

        public init(code: String, kind: RechargeCore.Product.Kind, names: [String: String], prices: [String: String], credit: [String: String]?,
                    allowances: [Allowance]?, validityDays: Int?, coverage: Coverage?, autoRenew: Bool?, plan: Plan?, active: Bool?,
                    descriptions: [String: String]? = nil) {
            self.descriptions = descriptions
            self.code = code
            self.kind = kind
            self.names = names
            self.prices = prices
            self.credit = credit
            self.allowances = allowances
            self.validityDays = validityDays
            self.coverage = coverage
            self.autoRenew = autoRenew
            self.plan = plan
            self.active = active
        }

        private enum CodingKeys: String, CodingKey {
            case code, kind, names, name, prices, credit, allowances, validityDays, coverage, autoRenew, plan, active, descriptions, description
        }

        /// `names`/`descriptions` are canonical; `name`/`description` are read as the same mapping.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            code = try c.decode(String.self, forKey: .code)
            kind = try c.decode(RechargeCore.Product.Kind.self, forKey: .kind)
            names = try CatalogDefinition.texts(c, canonical: .names, alias: .name, required: true) ?? [:]
            prices = try c.decode([String: String].self, forKey: .prices)
            credit = try c.decodeIfPresent([String: String].self, forKey: .credit)
            allowances = try c.decodeIfPresent([Allowance].self, forKey: .allowances)
            validityDays = try c.decodeIfPresent(Int.self, forKey: .validityDays)
            coverage = try c.decodeIfPresent(Coverage.self, forKey: .coverage)
            autoRenew = try c.decodeIfPresent(Bool.self, forKey: .autoRenew)
            plan = try c.decodeIfPresent(Plan.self, forKey: .plan)
            active = try c.decodeIfPresent(Bool.self, forKey: .active)
            descriptions = try CatalogDefinition.texts(c, canonical: .descriptions, alias: .description, required: false)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(code, forKey: .code)
            try c.encode(kind, forKey: .kind)
            try c.encode(names, forKey: .names)
            try c.encode(prices, forKey: .prices)
            try c.encodeIfPresent(credit, forKey: .credit)
            try c.encodeIfPresent(allowances, forKey: .allowances)
            try c.encodeIfPresent(validityDays, forKey: .validityDays)
            try c.encodeIfPresent(coverage, forKey: .coverage)
            try c.encodeIfPresent(autoRenew, forKey: .autoRenew)
            try c.encodeIfPresent(plan, forKey: .plan)
            try c.encodeIfPresent(active, forKey: .active)
            try c.encodeIfPresent(descriptions, forKey: .descriptions)
        }
    }

    public let customTopUp: [String: Range]?
    public let products: [Product]
    public let promotions: [Promotion]?
    public let fxRates: [ExchangeRate]?
    /// The operator's IANA time zone (default UTC).
    public let timeZone: String?
    /// Tariffs for usage charging.
    public let rating: RatingDefinition?

    public init(customTopUp: [String: Range]?, products: [Product], promotions: [Promotion]? = nil, fxRates: [ExchangeRate]? = nil,
                timeZone: String? = nil, rating: RatingDefinition? = nil) {
        self.timeZone = timeZone
        self.rating = rating
        self.customTopUp = customTopUp
        self.products = products
        self.promotions = promotions
        self.fxRates = fxRates
    }
}

import Foundation

/// The `rating` section of a catalog file: tariffs as people write them (decimal prices, `60/60` increments,
/// `22:00-07:00` hours), checked and turned into a ``RatingTable`` by ``table(timeZone:)``.
///
/// ```yaml
/// rating:
///   currency: USD
///   homeCountries: [US]
///   freeNumbers: ["911", "112", "1800*"]      # default: RatingTable.standardEmergencyNumbers
///   zones: [{ name: asia, countries: [JP, KR], networks: ["46000"] }]
///   tariffs:
///     - { code: voice-us, service: voice, destinations: ["1"], price: "0.05", per: 60, increments: "60/60" }
///     - { code: voice-roam-asia, service: voice, zone: asia, price: "0.25", per: 60, increments: "60/60" }
///     - { code: data-home, service: data, price: "0.01", per: 1048576, increments: "1024/1024" }
///     - { code: sms, service: sms, price: "0.05", per: 1 }
/// ```
public struct RatingDefinition: Sendable, Equatable, Codable {
    public struct Zone: Sendable, Equatable, Codable {
        public let name: String
        public let countries: [String]?
        public let networks: [String]?

        public init(name: String, countries: [String]?, networks: [String]?) {
            self.name = name
            self.countries = countries
            self.networks = networks
        }
    }

    public struct TariffEntry: Sendable, Equatable, Codable {
        public let code: String
        public let service: String
        /// E.164 prefixes without `+`; absent: any destination.
        public let destinations: [String]?
        /// A roaming zone's name; absent: at home (unless `anywhere`).
        public let zone: String?
        /// Applies at home and in every zone (a catch-all); a more specific tariff wins.
        public let anywhere: Bool?
        /// Local hours `HH:MM-HH:MM` in the catalog's time zone (may pass midnight).
        public let hours: String?
        /// Days the hours apply on: 1 = Sunday … 7 = Saturday.
        public let weekdays: [Int]?
        /// Decimal price per `per` units.
        public let price: String
        public let per: Int64
        /// `first/next` billing increments in units (`60/60`, `30/6`, `1024/1024`); default `1/1`.
        public let increments: String?
        public let setupFee: String?
        public let minimum: String?

        public init(code: String, service: String, destinations: [String]? = nil, zone: String? = nil, anywhere: Bool? = nil, hours: String? = nil,
                    weekdays: [Int]? = nil, price: String, per: Int64, increments: String? = nil, setupFee: String? = nil, minimum: String? = nil) {
            self.code = code
            self.service = service
            self.destinations = destinations
            self.zone = zone
            self.anywhere = anywhere
            self.hours = hours
            self.weekdays = weekdays
            self.price = price
            self.per = per
            self.increments = increments
            self.setupFee = setupFee
            self.minimum = minimum
        }
    }

    public let currency: String
    public let homeCountries: [String]
    public let freeNumbers: [String]?
    public let zones: [Zone]?
    public let tariffs: [TariffEntry]
    /// Grant sizes and validity for live sessions; absent: ``ChargingQuota/standard``.
    public let quota: ChargingQuota?

    public init(currency: String, homeCountries: [String], freeNumbers: [String]? = nil, zones: [Zone]? = nil, tariffs: [TariffEntry],
                quota: ChargingQuota? = nil) {
        self.currency = currency
        self.homeCountries = homeCountries
        self.freeNumbers = freeNumbers
        self.zones = zones
        self.tariffs = tariffs
        self.quota = quota
    }

    /// The checked table, its time bands read in `timeZone` (the catalog's).
    public func table(timeZone: TimeZone) throws(RechargeError) -> RatingTable {
        let currency = try Currency(code: currency)
        let homes = Set(homeCountries.map { $0.uppercased() })
        guard !homes.isEmpty, homes.allSatisfy({ $0.utf8.count == 2 && $0.utf8.allSatisfy { $0 >= 0x41 && $0 <= 0x5A } }) else {
            throw .invalidCatalog("rating.homeCountries: one or more ISO 3166 alpha-2 codes (US, CN)")
        }
        let zones = try (self.zones ?? []).map { zone throws(RechargeError) in
            try RoamingZone(name: zone.name, countries: Set((zone.countries ?? []).map { $0.uppercased() }), networks: Set(zone.networks ?? []))
        }
        var tariffs: [Tariff] = []
        for (index, entry) in self.tariffs.enumerated() {
            do {
                tariffs.append(try entry.tariff(currency: currency))
            } catch {
                throw .invalidCatalog("rating.tariffs[\(index)] (\(entry.code)): \(error.detail)")
            }
        }
        if let quota {
            guard quota.voiceSeconds > 0, quota.dataBytes > 0, quota.smsCount > 0, quota.otherUnits > 0, quota.validitySeconds > 0,
                  quota.graceSeconds >= 0, quota.validitySeconds <= 86_400
            else { throw .invalidCatalog("rating.quota: sizes and validitySeconds (at most 86400) are positive, graceSeconds not negative") }
        }
        return try RatingTable(currency: currency, tariffs: tariffs, zones: zones, freeNumbers: freeNumbers ?? RatingTable.standardEmergencyNumbers,
                               homeCountries: homes, timeZone: timeZone)
    }
}

extension RatingDefinition.TariffEntry {
    func tariff(currency: Currency) throws(RechargeError) -> Tariff {
        let service = try ChargedService(service)
        let location: TariffLocation
        switch (zone, anywhere ?? false) {
        case (nil, false): location = .home
        case (nil, true): location = .anywhere
        case (let name?, false): location = .zone(name)
        case (_?, true): throw .invalidCatalog("a tariff has a zone or applies anywhere, not both")
        }
        var band: TimeBand?
        if let hours {
            let ends = hours.split(separator: "-").map(String.init)
            guard ends.count == 2, let start = Self.minute(ends[0]), let end = Self.minute(ends[1]) else {
                throw .invalidCatalog("hours '\(hours)' must be HH:MM-HH:MM")
            }
            band = try TimeBand(start: start, end: end == 0 ? 1440 : end, weekdays: weekdays.map(Set.init))
        } else if weekdays != nil {
            throw .invalidCatalog("weekdays need hours (00:00-24:00 for whole days)")
        }
        var first: Int64 = 1, next: Int64 = 1
        if let increments {
            let parts = increments.split(separator: "/").map { Int64($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 2, let a = parts[0], let b = parts[1] else { throw .invalidCatalog("increments '\(increments)' must be first/next, e.g. 60/60") }
            (first, next) = (a, b)
        }
        func money(_ text: String?) throws(RechargeError) -> Int64 {
            guard let text else { return 0 }
            let amount = try Money(decimal: text, currency: currency)
            guard !amount.isNegative else { throw .invalidCatalog("prices and fees cannot be negative") }
            return amount.micros
        }
        return try Tariff(code: code, service: service, destinations: destinations ?? [], location: location, timeBand: band,
                          price: try money(price), per: per, firstIncrement: first, nextIncrement: next, setupFee: try money(setupFee),
                          minimumCharge: try money(minimum))
    }

    /// `HH:MM` as minutes after midnight (`24:00` is 1,440).
    static func minute(_ text: String) -> Int? {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: ":").map { Int($0) }
        guard parts.count == 2, let hour = parts[0], let minute = parts[1], (0...24).contains(hour), (0..<60).contains(minute),
              hour * 60 + minute <= 1440 else { return nil }
        return hour * 60 + minute
    }
}

/// Mobile country codes (ITU-T E.212) of the countries travellers from this platform's markets visit most, so a
/// visited network's MCC+MNC (Diameter's 3GPP-SGSN-MCC-MNC) names its country for roaming zones and travel packs.
/// A network not listed here is matched by the zones' own `networks` lists.
public enum MobileCountryCode {
    static let countries: [String: String] = [
        "202": "GR", "204": "NL", "206": "BE", "208": "FR", "214": "ES", "222": "IT", "228": "CH", "232": "AT", "234": "GB", "235": "GB",
        "238": "DK", "240": "SE", "242": "NO", "244": "FI", "260": "PL", "262": "DE", "268": "PT", "272": "IE", "286": "TR",
        "302": "CA", "310": "US", "311": "US", "312": "US", "313": "US", "314": "US", "315": "US", "316": "US", "334": "MX",
        "404": "IN", "405": "IN", "410": "PK", "414": "MM", "415": "LB", "424": "AE", "425": "IL", "427": "QA", "440": "JP", "441": "JP",
        "450": "KR", "452": "VN", "454": "HK", "455": "MO", "456": "KH", "457": "LA", "460": "CN", "461": "CN", "466": "TW",
        "470": "BD", "502": "MY", "505": "AU", "510": "ID", "515": "PH", "520": "TH", "525": "SG", "530": "NZ", "602": "EG",
        "655": "ZA", "724": "BR", "722": "AR", "730": "CL", "732": "CO", "250": "RU",
    ]

    /// The country of a network's MCC+MNC (5 or 6 digits), when known.
    public static func country(ofNetwork network: String) -> String? {
        guard network.utf8.count >= 3 else { return nil }
        return countries[String(network.prefix(3))]
    }
}

import Foundation

// Rating (issue 17, first part): what a piece of usage costs, decided without a database. A pure function of the
// operator's rating table and one usage event; the charging engine (reservations, sessions, Diameter, CDRs) is built
// on it and is not here yet.

/// What is charged: voice (seconds), SMS (messages), data (bytes), or an operator's own service id (units).
public struct ChargedService: Sendable, Hashable, Codable, CustomStringConvertible {
    public let id: String

    public static let voice = ChargedService(checked: "voice")
    public static let sms = ChargedService(checked: "sms")
    public static let data = ChargedService(checked: "data")

    private init(checked id: String) { self.id = id }

    /// `voice`, `sms`, `data`, or another id of lower-case letters, digits and dashes (1–32).
    public init(_ id: String) throws(RechargeError) {
        guard (1...32).contains(id.utf8.count),
              id.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D })
        else { throw .invalidCatalog("service '\(id)' must be 1 to 32 lower-case letters, digits or dashes") }
        self.id = id
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(text) } catch { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.detail)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(id)
    }

    public var description: String { id }

    /// The unit usage of this service is counted in, as the rating explanation names it.
    public var unitName: String {
        switch id {
        case "voice": "s"
        case "sms": "SMS"
        case "data": "B"
        default: "units"
        }
    }
}

/// The one rounding rule of rating: a charge is worked out exactly in micro-units over the billed units and rounded
/// **up** to the next micro-unit once, at the end (never per increment), so the operator is never paid less than its
/// tariff and a subscriber never pays more than one micro-unit above it.
public enum RatingRounding {
    /// ⌈units × price ÷ per⌉ in micro-units; nil on overflow.
    public static func charge(units: Int64, price: Int64, per: Int64) -> Int64? {
        guard units >= 0, price >= 0, per > 0 else { return nil }
        let (product, overflow) = units.multipliedReportingOverflow(by: price)
        guard !overflow else { return nil }
        return product / per + (product % per == 0 ? 0 : 1)
    }

    /// The units billed for `used`: nothing for nothing, else the first increment, then whole next increments
    /// (voice 60/60 bills 125 s as 180 s; 30/6 bills it as 126 s; data 1 KB/1 KB bills 1,500 B as 2,048 B).
    public static func billedUnits(_ used: Int64, first: Int64, next: Int64) -> Int64? {
        guard used > 0 else { return 0 }
        guard used > first else { return first }
        let rest = used - first
        let steps = rest / next + (rest % next == 0 ? 0 : 1)
        let (more, overflow) = steps.multipliedReportingOverflow(by: next)
        guard !overflow else { return nil }
        let (total, overflow2) = first.addingReportingOverflow(more)
        return overflow2 ? nil : total
    }
}

/// Where a tariff applies: at home, in a named roaming zone, or anywhere.
public enum TariffLocation: Sendable, Equatable {
    case home
    case zone(String)
    case anywhere
}

/// Hours of the operator's local day a tariff applies in (`start..<end` minutes after midnight; `end` may be past
/// midnight's 1,440 by wrapping: 22:00–07:00 is start 1,320, end 420), optionally on some weekdays only (1 = Sunday
/// … 7 = Saturday, as Foundation's Calendar counts them, of the day the band starts).
public struct TimeBand: Sendable, Equatable {
    public let start: Int
    public let end: Int
    public let weekdays: Set<Int>?

    public init(start: Int, end: Int, weekdays: Set<Int>? = nil) throws(RechargeError) {
        guard (0..<1440).contains(start), (0...1440).contains(end), start != end else {
            throw .invalidCatalog("a time band runs from one minute of the day to another (00:00 to 24:00), not to itself")
        }
        if let weekdays, weekdays.isEmpty || !weekdays.allSatisfy({ (1...7).contains($0) }) {
            throw .invalidCatalog("time band weekdays are 1 (Sunday) to 7 (Saturday)")
        }
        self.start = start
        self.end = end
        self.weekdays = weekdays
    }

    /// Whether local minute `minute` (0..<1440) of a day that is `weekday`, and the day before (`previousWeekday`),
    /// falls in the band. A band over midnight belongs to the day it started.
    func contains(minute: Int, weekday: Int, previousWeekday: Int) -> Bool {
        if start < end {
            return (start..<end).contains(minute) && (weekdays?.contains(weekday) ?? true)
        }
        if minute >= start { return weekdays?.contains(weekday) ?? true }
        if minute < end { return weekdays?.contains(previousWeekday) ?? true }
        return false
    }
}

/// One price in the rating table.
public struct Tariff: Sendable, Equatable {
    public let code: String
    public let service: ChargedService
    /// E.164 prefixes, digits only ("86", "8613"); empty: any destination (data, or a catch-all).
    public let destinations: [String]
    public let location: TariffLocation
    public let timeBand: TimeBand?
    /// Micro-units per `per` units (0.25 USD a minute: price 250,000, per 60).
    public let price: Int64
    public let per: Int64
    /// Billing increments in units: voice 60/60 or 30/6 seconds, data 1,024/1,024 bytes, SMS 1/1.
    public let firstIncrement: Int64
    public let nextIncrement: Int64
    /// Charged once when any unit is used.
    public let setupFee: Int64
    /// The least a use with any unit costs (set-up fee included).
    public let minimumCharge: Int64

    public init(code: String, service: ChargedService, destinations: [String] = [], location: TariffLocation = .home, timeBand: TimeBand? = nil,
                price: Int64, per: Int64, firstIncrement: Int64 = 1, nextIncrement: Int64 = 1, setupFee: Int64 = 0,
                minimumCharge: Int64 = 0) throws(RechargeError) {
        guard (1...64).contains(code.utf8.count) else { throw .invalidCatalog("tariff code must be 1 to 64 characters") }
        for prefix in destinations where prefix.isEmpty || prefix.utf8.count > 15 || !prefix.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            throw .invalidCatalog("tariff \(code): destination '\(prefix)' must be 1 to 15 digits of an E.164 number, without +")
        }
        guard price >= 0, per > 0, firstIncrement > 0, nextIncrement > 0, setupFee >= 0, minimumCharge >= 0 else {
            throw .invalidCatalog("tariff \(code): price, set-up fee and minimum are not negative; per and increments are positive")
        }
        self.code = code
        self.service = service
        self.destinations = destinations
        self.location = location
        self.timeBand = timeBand
        self.price = price
        self.per = per
        self.firstIncrement = firstIncrement
        self.nextIncrement = nextIncrement
        self.setupFee = setupFee
        self.minimumCharge = minimumCharge
    }

    /// The longest of its prefixes `digits` starts with: its length (0 for a catch-all), or nil when none matches.
    func match(_ digits: String?) -> Int? {
        guard !destinations.isEmpty else { return 0 }
        guard let digits else { return nil }
        return destinations.filter { digits.hasPrefix($0) }.map(\.utf8.count).max()
    }
}

/// A roaming zone: the visited countries (ISO 3166 alpha-2) and networks (MCC+MNC, 5 or 6 digits) it covers.
public struct RoamingZone: Sendable, Equatable {
    public let name: String
    public let countries: Set<String>
    public let networks: Set<String>

    public init(name: String, countries: Set<String> = [], networks: Set<String> = []) throws(RechargeError) {
        guard !name.isEmpty, !(countries.isEmpty && networks.isEmpty) else { throw .invalidCatalog("a roaming zone has a name and countries or networks") }
        guard countries.allSatisfy({ $0.utf8.count == 2 && $0.utf8.allSatisfy { $0 >= 0x41 && $0 <= 0x5A } }) else {
            throw .invalidCatalog("roaming zone \(name): countries are ISO 3166 alpha-2 codes (JP, CN)")
        }
        guard networks.allSatisfy({ (5...6).contains($0.utf8.count) && $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }) else {
            throw .invalidCatalog("roaming zone \(name): networks are MCC+MNC, 5 or 6 digits (44010)")
        }
        self.name = name
        self.countries = countries
        self.networks = networks
    }
}

/// A use to rate: what, to where, how much, when, and from where.
public struct UsageEvent: Sendable, Equatable {
    public let service: ChargedService
    /// The number called or texted, E.164 digits (nil for data).
    public let destination: String?
    /// Seconds, messages, bytes or units, as the service counts.
    public let amount: Int64
    public let start: Date
    /// Where the subscriber is: the visited country (ISO 3166 alpha-2) and network (MCC+MNC); nil at home.
    public let visitedCountry: String?
    public let visitedNetwork: String?

    public init(service: ChargedService, destination: String?, amount: Int64, start: Date, visitedCountry: String? = nil,
                visitedNetwork: String? = nil) throws(RechargeError) {
        guard amount >= 0 else { throw .invalidRequest("usage amount must not be negative") }
        if let destination {
            let digits = destination.hasPrefix("+") ? String(destination.dropFirst()) : destination
            guard (1...15).contains(digits.utf8.count), digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw .invalidRequest("destination '\(destination)' is not an E.164 number or a short code")
            }
            self.destination = digits
        } else {
            self.destination = nil
        }
        self.service = service
        self.amount = amount
        self.start = start
        self.visitedCountry = visitedCountry?.uppercased()
        self.visitedNetwork = visitedNetwork
    }
}

extension UsageEvent {
    /// How a destination is written for people: a short code as dialled (112, 10086), a longer number in E.164 with
    /// its `+` (E.164 numbers have at least 8 digits; short codes at most 6).
    public static func display(_ digits: String) -> String {
        digits.utf8.count > 6 ? "+" + digits : digits
    }
}

/// What rating decided.
public struct RatedUsage: Sendable, Equatable {
    /// The tariff applied; nil for a free number.
    public let tariff: String?
    /// An emergency or free number: zero-rated and always allowed (at zero balance, on a barred line).
    public let free: Bool
    /// Where the subscriber was: nil at home, else the roaming zone's name.
    public let zone: String?
    public let billedUnits: Int64
    /// The charge in micro-units of the table's currency.
    public let charge: Money
    /// "+8613800138000, voice, 125 s, roaming JP → 3 × 60 s at 0.25 = 0.75 USD".
    public let explanation: String
}

/// The operator's rating table: tariffs, roaming zones, the free and emergency numbers, the home countries, the
/// currency and the time zone time bands are read in.
public struct RatingTable: Sendable, Equatable {
    public let currency: Currency
    public let tariffs: [Tariff]
    public let zones: [RoamingZone]
    /// Emergency and other free numbers: exact short codes ("911", "112", "110") and prefixes of free ranges
    /// ("1800"): a destination equal to one, or starting with a prefix given with a trailing `*` ("1800*").
    public let freeNumbers: [String]
    /// Visiting one of these is being at home (ISO 3166 alpha-2).
    public let homeCountries: Set<String>
    public let timeZone: TimeZone
    /// The Gregorian calendar in `timeZone`, made once: rating runs per charging request, a calendar per call is waste.
    private let calendar: Calendar

    /// The defaults most networks dial for help: 911 (North America), 112 (GSM, Europe), 999 (UK), 000 (Australia),
    /// 110/119/120/122 (China).
    public static let standardEmergencyNumbers = ["911", "112", "999", "000", "110", "119", "120", "122"]

    public init(currency: Currency, tariffs: [Tariff], zones: [RoamingZone] = [], freeNumbers: [String] = RatingTable.standardEmergencyNumbers,
                homeCountries: Set<String>, timeZone: TimeZone = TimeZone(identifier: "UTC")!) throws(RechargeError) {
        var seen = Set<String>()
        for tariff in tariffs {
            guard seen.insert(tariff.code).inserted else { throw .invalidCatalog("tariff code \(tariff.code) is used twice") }
            if case .zone(let name) = tariff.location, !zones.contains(where: { $0.name == name }) {
                throw .invalidCatalog("tariff \(tariff.code): no roaming zone named '\(name)'")
            }
        }
        for number in freeNumbers {
            let digits = number.hasSuffix("*") ? String(number.dropLast()) : number
            guard (1...15).contains(digits.utf8.count), digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw .invalidCatalog("free number '\(number)' must be digits, a prefix ending in *")
            }
        }
        self.currency = currency
        self.tariffs = tariffs
        self.zones = zones
        self.freeNumbers = freeNumbers
        self.homeCountries = homeCountries
        self.timeZone = timeZone
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        self.calendar = calendar
    }

    public static func == (a: RatingTable, b: RatingTable) -> Bool {
        a.currency == b.currency && a.tariffs == b.tariffs && a.zones == b.zones && a.freeNumbers == b.freeNumbers
            && a.homeCountries == b.homeCountries && a.timeZone.identifier == b.timeZone.identifier
    }

    /// Whether `digits` is an emergency or free number.
    public func isFree(_ digits: String?) -> Bool {
        guard let digits else { return false }
        return freeNumbers.contains { $0.hasSuffix("*") ? digits.hasPrefix($0.dropLast()) : digits == $0 }
    }

    /// The roaming zone of where the event was used: nil at home (no visited network or country, or a home
    /// country); a network's zone wins over a country's (one country's networks can be priced apart).
    public func zone(of event: UsageEvent) throws(RechargeError) -> RoamingZone? {
        if let network = event.visitedNetwork, let zone = zones.first(where: { $0.networks.contains(network) }) { return zone }
        guard let country = event.visitedCountry, !homeCountries.contains(country) else { return nil }
        guard let zone = zones.first(where: { $0.countries.contains(country) }) else {
            throw .invalidRequest("no roaming zone covers \(country)\(event.visitedNetwork.map { " (network \($0))" } ?? ""): usage there cannot be rated")
        }
        return zone
    }

    /// Rates `event`: a free number costs nothing; otherwise the most specific tariff for its service — the longest
    /// destination prefix, then one for the zone (or home) over one for anywhere, then one with a time band over one
    /// without, then the catalog's order — billed in its increments with its set-up fee and minimum.
    public func rate(_ event: UsageEvent) throws(RechargeError) -> RatedUsage {
        try price(event).rated(event.amount)
    }

    /// The price that applies to `event`'s kind of use (its service, destination, place and time), for any amount:
    /// what a charging session works out once and then applies to its running total of units.
    public func price(_ event: UsageEvent) throws(RechargeError) -> UsagePrice {
        let zone = try zone(of: event)
        let whereText = zone.map { ", roaming \(event.visitedCountry ?? event.visitedNetwork ?? $0.name)" } ?? ""
        let destination = event.destination.map { UsageEvent.display($0) + ", " } ?? ""
        func head(_ amount: Int64) -> String { "\(destination)\(event.service), \(amount) \(event.service.unitName)\(whereText)" }
        if event.service != .data, isFree(event.destination) {
            return UsagePrice(tariff: nil, zone: zone?.name, service: event.service, currency: currency, destinationText: destination, whereText: whereText)
        }
        let parts = calendar.dateComponents([.hour, .minute, .weekday], from: event.start)
        let minute = (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
        let weekday = parts.weekday ?? 1
        let previousWeekday = weekday == 1 ? 7 : weekday - 1

        var best: (tariff: Tariff, rank: (Int, Int, Int))?
        for tariff in tariffs where tariff.service == event.service {
            let locationRank: Int
            switch tariff.location {
            case .home: guard zone == nil else { continue }; locationRank = 1
            case .zone(let name): guard zone?.name == name else { continue }; locationRank = 1
            case .anywhere: locationRank = 0
            }
            if let band = tariff.timeBand, !band.contains(minute: minute, weekday: weekday, previousWeekday: previousWeekday) { continue }
            guard let prefix = tariff.match(event.destination) else { continue }
            let rank = (prefix, locationRank, tariff.timeBand == nil ? 0 : 1)
            if best == nil || rank > best!.rank { best = (tariff, rank) }
        }
        guard let tariff = best?.tariff else {
            throw .invalidRequest("no tariff for \(head(event.amount)): the catalog has none for this service, destination and place")
        }
        return UsagePrice(tariff: tariff, zone: zone?.name, service: event.service, currency: currency, destinationText: destination, whereText: whereText)
    }
}

/// The tariff chosen for one kind of use (or none: a free number), applied to any number of units. Pure arithmetic,
/// so a charging session can price its running total on every request, and search for how many units money buys.
public struct UsagePrice: Sendable {
    /// nil for an emergency or free number.
    public let tariff: Tariff?
    public let zone: String?
    public let service: ChargedService
    public let currency: Currency
    let destinationText: String
    let whereText: String

    /// "+8613800138000, voice, 125 s, roaming JP".
    func head(_ units: Int64) -> String { "\(destinationText)\(service), \(units) \(service.unitName)\(whereText)" }

    public var free: Bool { tariff == nil }

    /// What `units` cost in micro-units: billed in the tariff's increments, with its set-up fee and minimum; nil on
    /// overflow.
    public func charge(_ units: Int64) -> Int64? {
        guard let tariff else { return 0 }
        guard let billed = RatingRounding.billedUnits(units, first: tariff.firstIncrement, next: tariff.nextIncrement),
              let usage = RatingRounding.charge(units: billed, price: tariff.price, per: tariff.per)
        else { return nil }
        guard billed > 0 else { return 0 }
        let (withFee, overflow) = usage.addingReportingOverflow(tariff.setupFee)
        return overflow ? nil : max(withFee, tariff.minimumCharge)
    }

    /// The most units whose charge is at most `budget` micro-units, searching up to `limit` (a grant's cap): the
    /// charge only grows with the units, so a binary search finds the top of the last affordable increment.
    public func affordableUnits(budget: Int64, upTo limit: Int64) -> Int64 {
        guard limit > 0 else { return 0 }
        guard tariff != nil else { return limit }
        if let whole = charge(limit), whole <= budget { return limit }
        var low: Int64 = 0, high = limit
        while low < high {
            let middle = low + (high - low + 1) / 2
            if let cost = charge(middle), cost <= budget { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// `units` rated, with the explanation people read ("… → 3 × 60 s at 0.25 = 0.75 USD").
    public func rated(_ units: Int64) throws(RechargeError) -> RatedUsage {
        guard let tariff else {
            return RatedUsage(tariff: nil, free: true, zone: zone, billedUnits: 0, charge: Money(micros: 0, currency: currency),
                              explanation: "\(head(units)) → free (emergency or free number) = 0 \(currency.code)")
        }
        guard let billed = RatingRounding.billedUnits(units, first: tariff.firstIncrement, next: tariff.nextIncrement),
              let usage = RatingRounding.charge(units: billed, price: tariff.price, per: tariff.per),
              let charge = charge(units)
        else { throw .amountOverflow }
        let money = Money(micros: charge, currency: currency)
        let unitName = service.unitName
        let steps = tariff.firstIncrement == tariff.nextIncrement && billed % tariff.nextIncrement == 0 && billed > 0
            ? "\(billed / tariff.nextIncrement) × \(tariff.nextIncrement) \(unitName)" : "\(billed) \(unitName)"
        var how = "\(steps) at \(Money(micros: tariff.price, currency: currency).decimalString)"
            + (tariff.per == tariff.nextIncrement ? "" : " per \(tariff.per) \(unitName)")
        if tariff.setupFee > 0, billed > 0 { how += " + set-up \(Money(micros: tariff.setupFee, currency: currency).decimalString)" }
        if billed > 0, charge == tariff.minimumCharge, charge > usage + tariff.setupFee { how += ", minimum" }
        return RatedUsage(tariff: tariff.code, free: false, zone: zone, billedUnits: billed, charge: money,
                          explanation: "\(head(units)) → \(how) = \(money.decimalString) \(currency.code)")
    }
}

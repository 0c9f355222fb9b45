import Foundation

/// What a bucket holds. Money is counted in micro-units of the line's currency, data in bytes,
/// voice in seconds, SMS as a count: all Int64.
public enum BucketKind: String, Sendable, Codable, CaseIterable {
    case monetary
    case data
    case voice
    case sms

    /// The ledger unit of a bucket of this kind: the currency code for money, else a fixed unit name.
    public func unit(currency: Currency) -> String {
        switch self {
        case .monetary: currency.code
        case .data: "BYTES"
        case .voice: "SECONDS"
        case .sms: "SMS"
        }
    }
}

/// One part of a line's balance, with its own validity window and priority. Its remaining amount is the
/// balance of its own ledger account, so it is always derivable from the transfers.
public struct Bucket: Sendable, Equatable, Identifiable {
    public let id: Int64
    public let lineID: Int64
    public let accountID: Int64
    public let kind: BucketKind
    /// The ledger unit: a currency code for money, `BYTES`, `SECONDS` or `SMS`.
    public let unit: String
    public let name: String?
    public var remaining: Int64
    /// The lowest `remaining` may go: 0, or minus the line's credit limit on the main monetary bucket.
    public let floor: Int64
    public let validFrom: Date
    /// `nil` means the bucket does not expire (the main balance of a line).
    public let validUntil: Date?
    /// Lower numbers are consumed first.
    public let priority: Int
    public let isMain: Bool
    /// What live charging sessions have reserved of it and not yet used or released (the pending debits of its
    /// ledger account): it cannot be spent twice, so ``available(at:)`` leaves it out.
    public var pending: Int64
    /// Where an allowance may be used: visited countries (ISO 3166 alpha-2) for a travel pack; nil for a home
    /// allowance, usable at home only. Money pays anywhere, at the tariff of where the subscriber is.
    public let coverage: Set<String>?
    /// The charged services (``ChargedService`` ids) it pays for; nil: any service of its unit.
    public let services: Set<String>?

    public init(
        id: Int64, lineID: Int64, accountID: Int64, kind: BucketKind, unit: String, name: String?,
        remaining: Int64, floor: Int64, validFrom: Date, validUntil: Date?, priority: Int, isMain: Bool,
        pending: Int64 = 0, coverage: Set<String>? = nil, services: Set<String>? = nil
    ) {
        self.id = id
        self.lineID = lineID
        self.accountID = accountID
        self.kind = kind
        self.unit = unit
        self.name = name
        self.remaining = remaining
        self.floor = floor
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.priority = priority
        self.isMain = isMain
        self.pending = pending
        self.coverage = coverage
        self.services = services
    }

    /// The same bucket with another floor (a debit that must not go into credit sees a floor of zero).
    public func withFloor(_ floor: Int64) -> Bucket {
        Bucket(id: id, lineID: lineID, accountID: accountID, kind: kind, unit: unit, name: name, remaining: remaining, floor: floor,
               validFrom: validFrom, validUntil: validUntil, priority: priority, isMain: isMain, pending: pending, coverage: coverage,
               services: services)
    }

    /// Whether usage of `service` while in `country` (nil: at home) may be drawn from this bucket: money pays for
    /// anything anywhere; an allowance pays for its own unit's service (data, voice, SMS) or the services it names —
    /// a home allowance (no coverage) at home only, a travel pack only in the countries it covers (a pack covering a
    /// home country also works at home).
    public func covers(service: ChargedService, visitedCountry country: String?, homeCountries: Set<String>) -> Bool {
        if let services, !services.contains(service.id) { return false }
        switch kind {
        case .monetary: return true
        case .data: guard services != nil || service == .data else { return false }
        case .voice: guard services != nil || service == .voice else { return false }
        case .sms: guard services != nil || service == .sms else { return false }
        }
        let atHome = country.map(homeCountries.contains) ?? true
        guard let coverage else { return atHome }
        if let country, coverage.contains(country) { return true }
        return atHome && !coverage.isDisjoint(with: homeCountries)
    }

    /// Whether the bucket may be drawn from at `instant`: inside `[validFrom, validUntil)`.
    public func isValid(at instant: Date) -> Bool {
        validFrom <= instant && (validUntil.map { instant < $0 } ?? true)
    }

    /// What can still be drawn from the bucket at `instant` (0 outside its validity window): down to its floor, less
    /// what charging sessions hold reserved.
    public func available(at instant: Date) -> Int64 {
        guard isValid(at: instant) else { return 0 }
        let (value, overflow) = remaining.subtractingReportingOverflow(floor)
        guard !overflow else { return Int64.max }
        return max(0, value - pending)
    }
}

/// One draw from a bucket when a debit is applied.
public struct BucketDraw: Sendable, Equatable {
    public let bucketID: Int64
    public let accountID: Int64
    public let amount: Int64
}

/// The consumption-order rule: which buckets pay for a debit, and how much each.
public enum ConsumptionOrder {
    /// Sorts buckets into the order they are consumed: lower priority number first, then the one that
    /// expires soonest (never-expiring last), then the oldest (lowest id), so the order is total and stable.
    public static func sorted(_ buckets: [Bucket]) -> [Bucket] {
        buckets.sorted { a, b in
            if a.priority != b.priority { return a.priority < b.priority }
            switch (a.validUntil, b.validUntil) {
            case let (x?, y?) where x != y: return x < y
            case (.some, nil): return true
            case (nil, .some): return false
            default: return a.id < b.id
            }
        }
    }

    /// Splits `amount` over the valid buckets of `unit` in consumption order. Throws
    /// ``RechargeError/insufficientBalance(msisdn:unit:available:requested:)`` when the buckets cannot cover it:
    /// nothing is taken in that case.
    public static func plan(
        debit amount: Int64, unit: String, from buckets: [Bucket], at instant: Date, msisdn: MSISDN
    ) throws(RechargeError) -> [BucketDraw] {
        guard amount > 0 else { throw .nonPositiveAmount(String(amount)) }
        var draws: [BucketDraw] = []
        var left = amount
        var totalAvailable: Int64 = 0
        for bucket in sorted(buckets.filter { $0.unit == unit }) {
            let available = bucket.available(at: instant)
            guard available > 0 else { continue }
            totalAvailable = totalAvailable.addingReportingOverflow(available).overflow ? Int64.max : totalAvailable + available
            guard left > 0 else { continue }
            let take = min(left, available)
            draws.append(BucketDraw(bucketID: bucket.id, accountID: bucket.accountID, amount: take))
            left -= take
        }
        guard left == 0 else {
            throw .insufficientBalance(msisdn: msisdn.e164, unit: unit, available: totalAvailable, requested: amount)
        }
        return draws
    }
}

import Foundation

// Online charging (issue 17): what one credit-control request does to a line, decided without a database. The store
// locks the line, loads its buckets (with every session's reservations as their pending amounts) and the session's
// running totals, asks ``CreditControl/decide(_:)``, and executes the answer as SQL: posts the used units as ledger
// debits, voids the session's old reservations and holds the new ones (RFC 4006 / 3GPP Ro semantics, TigerBeetle's
// pending transfers).

/// Which request of a session this is (RFC 4006 CC-Request-Type).
public enum CreditControlRequestType: String, Sendable, Codable, CaseIterable {
    /// Opens the session: rate, reserve, grant.
    case initial
    /// Reports used units and asks for more.
    case update
    /// Reports the final use; everything still reserved is released.
    case termination
    /// A one-shot charge (an SMS): charged in full or refused, nothing reserved.
    case event
}

/// How much one grant may hold at most, and how long it lasts: a session never reserves more than this, so one call
/// cannot lock a whole balance, and a network that disappears holds it no longer than validity plus grace.
public struct ChargingQuota: Sendable, Equatable, Codable {
    public var voiceSeconds: Int64
    public var dataBytes: Int64
    public var smsCount: Int64
    /// Units of an operator's own service.
    public var otherUnits: Int64
    /// The Validity-Time of a grant: the network reports back within it.
    public var validitySeconds: Int64
    /// How long after its validity an unreported reservation is voided by the expiry sweep.
    public var graceSeconds: Int64

    public static let standard = ChargingQuota(voiceSeconds: 300, dataBytes: 10 * 1_048_576, smsCount: 1, otherUnits: 100,
                                               validitySeconds: 600, graceSeconds: 120)

    public init(voiceSeconds: Int64, dataBytes: Int64, smsCount: Int64, otherUnits: Int64, validitySeconds: Int64, graceSeconds: Int64) {
        self.voiceSeconds = voiceSeconds
        self.dataBytes = dataBytes
        self.smsCount = smsCount
        self.otherUnits = otherUnits
        self.validitySeconds = validitySeconds
        self.graceSeconds = graceSeconds
    }

    public func units(for service: ChargedService) -> Int64 {
        switch service {
        case .voice: voiceSeconds
        case .data: dataBytes
        case .sms: smsCount
        default: otherUnits
        }
    }
}

/// What a session's use is: the service, where to, from where, and when it started (its time band).
public struct ChargedUse: Sendable, Equatable, Codable {
    public let service: ChargedService
    /// E.164 digits of the number called or texted; nil for data.
    public let destination: String?
    public let visitedCountry: String?
    public let visitedNetwork: String?
    public let start: Date

    public init(service: ChargedService, destination: String?, visitedCountry: String?, visitedNetwork: String?, start: Date) {
        self.service = service
        self.destination = destination
        // A network's MCC names its country when the network gave no country of its own.
        self.visitedCountry = visitedCountry?.uppercased() ?? visitedNetwork.flatMap(MobileCountryCode.country(ofNetwork:))
        self.visitedNetwork = visitedNetwork
        self.start = start
    }

    /// The use as a rating event of `units`.
    public func event(units: Int64) throws(RechargeError) -> UsageEvent {
        try UsageEvent(service: service, destination: destination, amount: units, start: start, visitedCountry: visitedCountry,
                       visitedNetwork: visitedNetwork)
    }

    /// The ledger unit of allowance buckets that pay for this service: nil for a service no allowance kind counts.
    public var allowanceKind: BucketKind? {
        switch service {
        case .voice: .voice
        case .data: .data
        case .sms: .sms
        default: nil
        }
    }
}

/// A session's running totals: rating is cumulative (the set-up fee and first increment once per session, the
/// increments over the whole use), so each commit charges the difference between the total's price and what was
/// charged before.
public struct SessionTotals: Sendable, Equatable, Codable {
    /// Every unit reported used.
    public var usedUnits: Int64 = 0
    /// Units paid from allowance buckets.
    public var bucketUnits: Int64 = 0
    /// Units paid with money: the amount rated.
    public var moneyUnits: Int64 = 0
    /// Money charged for `moneyUnits` (micro-units): what the tariff asks, less `unpaid`.
    public var charged: Int64 = 0
    /// What a commit larger than the balance could not collect (micro-units): recorded, never taken below a floor.
    public var unpaid: Int64 = 0

    public init() {}
}

/// One of this session's reservations, as held now.
public struct HeldReservation: Sendable, Equatable {
    public let id: Int64
    public let bucketID: Int64
    public let amount: Int64

    public init(id: Int64, bucketID: Int64, amount: Int64) {
        self.id = id
        self.bucketID = bucketID
        self.amount = amount
    }
}

/// One credit-control request, with everything needed to decide it.
public struct CreditControlInput: Sendable {
    public let type: CreditControlRequestType
    public let line: Line
    /// Every bucket of the line, with every session's reservations as `pending` (this one's included).
    public let buckets: [Bucket]
    /// This session's reservations: released before anything is decided, the decision holds new ones.
    public let held: [HeldReservation]
    public let totals: SessionTotals
    public let use: ChargedUse
    /// Units used since the last report (Used-Service-Unit); for an event, the units to charge.
    public let used: Int64
    /// Units asked for (Requested-Service-Unit); nil: the quota; 0: none.
    public let requested: Int64?
    public let table: RatingTable
    public let quota: ChargingQuota
    public let now: Date

    public init(type: CreditControlRequestType, line: Line, buckets: [Bucket], held: [HeldReservation], totals: SessionTotals, use: ChargedUse,
                used: Int64, requested: Int64?, table: RatingTable, quota: ChargingQuota, now: Date) {
        self.type = type
        self.line = line
        self.buckets = buckets
        self.held = held
        self.totals = totals
        self.use = use
        self.used = used
        self.requested = requested
        self.table = table
        self.quota = quota
        self.now = now
    }
}

/// How a request ended, in the terms RFC 4006 answers with.
public enum CreditControlOutcome: Sendable, Equatable {
    /// DIAMETER_SUCCESS (2001): used units charged, `granted` units reserved (maybe zero on a termination).
    case success
    /// DIAMETER_CREDIT_LIMIT_REACHED (4012): neither covering allowances nor money are left for this use.
    case creditLimitReached
    /// DIAMETER_END_USER_SERVICE_DENIED (4010): the line is suspended or terminated (free numbers excepted).
    case serviceDenied(LineStatus)
    /// DIAMETER_RATING_FAILED (5031): no tariff prices this use (nothing is changed).
    case ratingFailed(String)

    /// The stable code of the outcome, as the HTTP interface names it.
    public var code: String {
        switch self {
        case .success: "success"
        case .creditLimitReached: "credit-limit-reached"
        case .serviceDenied: "service-denied"
        case .ratingFailed: "rating-failed"
        }
    }
}

/// What to do: the store executes this as it is.
public struct CreditControlDecision: Sendable, Equatable {
    public var outcome: CreditControlOutcome
    /// Used units to post now, per bucket (its unit: seconds, bytes, SMS or money), in consumption order.
    public var posts: [BucketDraw] = []
    /// New reservations to hold, per bucket.
    public var reserve: [BucketDraw] = []
    /// Units granted (Granted-Service-Unit): what `reserve` pays for; for an event, the units charged.
    public var granted: Int64 = 0
    /// This is the last grant (Final-Unit-Indication): money ran out.
    public var finalUnit = false
    public var totals: SessionTotals
    /// Money ran out (nothing could be granted, or a commit could not be paid in full): bar the line for chargeable
    /// use (only when it is not barred already).
    public var bar = false
    /// The session's money use rated so far (for the itemized record): nil when rating failed.
    public var rated: RatedUsage?
}

/// The credit-control rule.
public enum CreditControl {
    /// Decides one request. Free and emergency numbers are always allowed and cost nothing; used units are drawn
    /// from covering allowance buckets first (consumption order), then charged in money at the tariff on the
    /// session's running total; a commit the balance cannot cover is charged up to the balance and the session told to
    /// stop; then the grant: allowances first, then as many units as the money buys, capped at the quota.
    public static func decide(_ input: CreditControlInput) -> CreditControlDecision {
        var totals = input.totals
        let use = input.use
        let price: UsagePrice
        do {
            guard input.table.currency == input.line.currency else {
                throw RechargeError.invalidRequest("the rating table prices in \(input.table.currency.code); the line is in \(input.line.currency.code)")
            }
            price = try input.table.price(try use.event(units: 0))
        } catch {
            return CreditControlDecision(outcome: .ratingFailed((error as? RechargeError)?.detail ?? String(describing: error)), totals: totals)
        }

        // This session's reservations are released first: what it used is then drawn like any other charge.
        var buckets = input.buckets
        for held in input.held {
            if let index = buckets.firstIndex(where: { $0.id == held.bucketID }) { buckets[index].pending -= held.amount }
        }
        let wantsGrant = input.type == .initial || input.type == .update
        let asked = wantsGrant ? min(input.requested ?? input.quota.units(for: use.service), input.quota.units(for: use.service)) : 0

        if price.free {
            totals.usedUnits += input.used
            let granted = input.type == .event ? input.used : asked
            return CreditControlDecision(outcome: .success, granted: granted, totals: totals, rated: try? price.rated(0))
        }

        let allowanceUnit = use.allowanceKind?.unit(currency: input.line.currency)
        let moneyUnit = input.line.currency.code
        func covering(_ unit: String?) -> [Bucket] {
            guard let unit else { return [] }
            return ConsumptionOrder.sorted(buckets.filter {
                $0.unit == unit && $0.covers(service: use.service, visitedCountry: use.visitedCountry, homeCountries: input.table.homeCountries) && $0.available(at: input.now) > 0
            })
        }
        /// Takes up to `amount` from `candidates` in order, updating the working buckets; returns the draws.
        func take(_ amount: Int64, from candidates: [Bucket], pending: Bool) -> [BucketDraw] {
            var left = amount
            var draws: [BucketDraw] = []
            for candidate in candidates where left > 0 {
                guard let index = buckets.firstIndex(where: { $0.id == candidate.id }) else { continue }
                let amount = min(left, buckets[index].available(at: input.now))
                guard amount > 0 else { continue }
                if pending { buckets[index].pending += amount } else { buckets[index].remaining -= amount }
                draws.append(BucketDraw(bucketID: candidate.id, accountID: candidate.accountID, amount: amount))
                left -= amount
            }
            return draws
        }
        func availableSum(_ candidates: [Bucket]) -> Int64 {
            candidates.reduce(0) { sum, bucket in
                let (next, overflow) = sum.addingReportingOverflow(bucket.available(at: input.now))
                return overflow ? .max : next
            }
        }

        if input.type == .event, !input.line.status.acceptsDebits {
            return CreditControlDecision(outcome: .serviceDenied(input.line.status), totals: totals)
        }
        var decision = CreditControlDecision(outcome: .success, totals: totals)
        var stop = false

        // Commit: what was used, allowances first, then money on the running total.
        if input.used > 0 {
            let fromBuckets = take(input.used, from: covering(allowanceUnit), pending: false)
            let bucketUnits = fromBuckets.reduce(0) { $0 + $1.amount }
            let rest = input.used - bucketUnits
            var posts = fromBuckets
            var next = totals
            next.usedUnits += input.used
            next.bucketUnits += bucketUnits
            if rest > 0 {
                next.moneyUnits += rest
                guard let cost = price.charge(next.moneyUnits) else {
                    return CreditControlDecision(outcome: .ratingFailed("the charge is too large to represent"), totals: totals)
                }
                let due = cost - (totals.charged + totals.unpaid)
                if due > 0 {
                    let money = covering(moneyUnit)
                    let available = availableSum(money)
                    if input.type == .event, available < due {
                        // An event is charged in full or refused: nothing is posted.
                        return CreditControlDecision(outcome: .creditLimitReached, finalUnit: true, totals: totals,
                                                     bar: input.line.barredAt == nil, rated: try? price.rated(totals.moneyUnits))
                    }
                    let paid = take(min(due, available), from: money, pending: false)
                    let paidAmount = paid.reduce(0) { $0 + $1.amount }
                    posts += paid
                    next.charged += paidAmount
                    next.unpaid += due - paidAmount
                    if paidAmount < due { stop = true }
                }
            } else if input.type == .event, bucketUnits < input.used {
                return CreditControlDecision(outcome: .creditLimitReached, finalUnit: true, totals: totals, bar: input.line.barredAt == nil)
            }
            decision.posts = posts
            totals = next
            decision.totals = next
        }
        decision.rated = try? price.rated(totals.moneyUnits)

        if stop {
            decision.outcome = .creditLimitReached
            decision.finalUnit = true
            decision.bar = input.line.barredAt == nil
            return decision
        }
        // An event's grant is what it was charged for (RFC 4006 direct debiting answers the units debited).
        if input.type == .event { decision.granted = input.used }
        guard wantsGrant, asked > 0 else { return decision }
        guard input.line.status.acceptsDebits else {
            decision.outcome = .serviceDenied(input.line.status)
            return decision
        }

        // Grant: allowances first, then what money buys at the tariff on top of the running total.
        let fromBuckets = take(asked, from: covering(allowanceUnit), pending: true)
        let bucketUnits = fromBuckets.reduce(0) { $0 + $1.amount }
        var reserve = fromBuckets
        var moneyUnits: Int64 = 0
        var moneyLimited = false
        if asked > bucketUnits {
            let money = covering(moneyUnit)
            let spent = totals.charged + totals.unpaid
            let budget = availableSum(money)
            let budgetTotal = spent > Int64.max - budget ? Int64.max : spent + budget
            let limit = asked - bucketUnits
            // Units the running total can grow by while its price stays within what was charged plus the balance.
            var affordable = price.affordableUnits(budget: budgetTotal, upTo: totals.moneyUnits + limit) - totals.moneyUnits
            affordable = max(0, min(affordable, limit))
            if affordable > 0, let cost = price.charge(totals.moneyUnits + affordable) {
                let hold = max(0, cost - spent)
                if hold > 0 { reserve += take(hold, from: money, pending: true) }
                moneyUnits = affordable
            }
            moneyLimited = affordable < limit
        }
        decision.reserve = reserve
        decision.granted = bucketUnits + moneyUnits
        if decision.granted == 0 {
            decision.outcome = .creditLimitReached
            decision.finalUnit = true
            decision.bar = input.line.barredAt == nil
        } else if moneyLimited {
            // The last units money buys: the network ends or redirects the use after them. The line is barred only when
            // nothing more can be granted (what is left may still pay for a message).
            decision.finalUnit = true
        }
        return decision
    }
}

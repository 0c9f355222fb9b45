import Foundation

/// The result of one applied top-up or debit: what it did to which buckets. It is stored with the
/// operation, so a retry with the same idempotency key gets exactly this back, and it is what the
/// transaction history lists.
public struct LedgerOperation: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable {
        case topUp = "top_up"
        case debit
    }

    /// One transfer as seen from the line: positive amounts were credited to a bucket, negative debited.
    public struct Entry: Sendable, Equatable, Codable {
        public let transferID: Int64
        public let bucketID: Int64
        public let bucketKind: BucketKind
        public let unit: String
        public let amount: Int64
        /// The bucket's remaining amount right after this entry.
        public let remainingAfter: Int64

        public init(transferID: Int64, bucketID: Int64, bucketKind: BucketKind, unit: String, amount: Int64, remainingAfter: Int64) {
            self.transferID = transferID
            self.bucketID = bucketID
            self.bucketKind = bucketKind
            self.unit = unit
            self.amount = amount
            self.remainingAfter = remainingAfter
        }
    }

    public let id: Int64
    public let kind: Kind
    public let msisdn: String
    public let idempotencyKey: String
    public let channel: Channel
    public let reference: String?
    public let createdAt: Date
    public let entries: [Entry]

    public init(id: Int64, kind: Kind, msisdn: String, idempotencyKey: String, channel: Channel, reference: String?, createdAt: Date, entries: [Entry]) {
        self.id = id
        self.kind = kind
        self.msisdn = msisdn
        self.idempotencyKey = idempotencyKey
        self.channel = channel
        self.reference = reference
        self.createdAt = createdAt
        self.entries = entries
    }
}

/// A line's balance at one instant: every bucket, and per unit the total remaining in valid buckets and
/// what can still be spent (remaining plus any credit limit).
public struct BalanceSummary: Sendable, Equatable {
    public struct Total: Sendable, Equatable {
        public let kind: BucketKind
        public let unit: String
        public let remaining: Int64
        public let available: Int64

        public init(kind: BucketKind, unit: String, remaining: Int64, available: Int64) {
            self.kind = kind
            self.unit = unit
            self.remaining = remaining
            self.available = available
        }
    }

    public let line: Line
    /// In consumption order.
    public let buckets: [Bucket]
    public let totals: [Total]
    public let asOf: Date

    public init(line: Line, buckets: [Bucket], at instant: Date) {
        self.line = line
        self.buckets = ConsumptionOrder.sorted(buckets)
        self.asOf = instant
        var totals: [String: Total] = [:]
        var order: [String] = []
        for bucket in self.buckets {
            let previous = totals[bucket.unit]
            if previous == nil { order.append(bucket.unit) }
            let remaining = bucket.isValid(at: instant) ? bucket.remaining : 0
            totals[bucket.unit] = Total(
                kind: bucket.kind, unit: bucket.unit,
                remaining: Self.saturatingAdd(previous?.remaining ?? 0, remaining),
                available: Self.saturatingAdd(previous?.available ?? 0, bucket.available(at: instant))
            )
        }
        self.totals = order.compactMap { totals[$0] }
    }

    private static func saturatingAdd(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? .max : .min) : sum
    }
}

/// Who a new line belongs to, when the subscriber is created with it.
public struct SubscriberDetails: Sendable, Equatable {
    public let name: String?
    public let email: String?
    /// `en` or `zh-Hans`.
    public let language: String

    public static let languages = ["en", "zh-Hans"]

    public init(name: String?, email: String?, language: String?) throws(RechargeError) {
        if let name, name.isEmpty || name.count > 200 { throw .invalidRequest("subscriber.name must be 1 to 200 characters.") }
        if let email {
            let parts = email.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), email.count <= 254, !email.contains(" ") else {
                throw .invalidRequest("subscriber.email '\(email)' is not an email address.")
            }
        }
        let language = language ?? "en"
        guard Self.languages.contains(language) else {
            throw .invalidRequest("subscriber.language must be one of \(Self.languages.joined(separator: ", ")).")
        }
        self.name = name
        self.email = email
        self.language = language
    }
}

/// A request to open a line on a number.
public struct OpenLineCommand: Sendable, Equatable {
    public let msisdn: MSISDN
    public let iccid: ICCID?
    public let type: LineType
    public let currency: Currency
    public let creditLimit: Money
    public let subscriber: SubscriberDetails?

    public init(msisdn: MSISDN, iccid: ICCID?, type: LineType, currency: Currency, creditLimit: Money?, subscriber: SubscriberDetails?) throws(RechargeError) {
        let limit = creditLimit ?? .zero(currency)
        guard limit.currency == currency else { throw .currencyMismatch(expected: currency.code, got: limit.currency.code) }
        guard !limit.isNegative else { throw .invalidAmount(limit.decimalString, reason: "a credit limit cannot be negative") }
        guard limit.micros <= Self.maximumCreditLimitMicros else { throw .amountOverflow }
        self.msisdn = msisdn
        self.iccid = iccid
        self.type = type
        self.currency = currency
        self.creditLimit = limit
        self.subscriber = subscriber
    }

    /// One billion major units: far above any real limit, far below where sums could overflow.
    public static let maximumCreditLimitMicros: Int64 = 1_000_000_000 * Money.microsPerUnit
}

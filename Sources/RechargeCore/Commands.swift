import Foundation

/// A client-chosen key that makes a request safe to retry: 1 to 255 printable ASCII characters.
public struct IdempotencyKey: Hashable, Sendable, CustomStringConvertible {
    public let value: String

    public init(_ value: String) throws(RechargeError) {
        guard !value.isEmpty else { throw .missingIdempotencyKey }
        guard value.utf8.count <= 255 else { throw .invalidIdempotencyKey("longer than 255 characters") }
        guard value.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw .invalidIdempotencyKey("only printable ASCII characters without spaces are allowed")
        }
        self.value = value
    }

    public var description: String { value }
}

/// A new bucket to put on a line: a pack's data, minutes or SMS, or money with its own validity.
public struct BucketGrant: Sendable, Equatable {
    public let kind: BucketKind
    /// Bytes, seconds, SMS, or micro-units of the line's currency for a monetary grant.
    public let amount: Int64
    public let name: String?
    public let validFrom: Date?
    public let validUntil: Date?
    public let priority: Int
    /// The countries (ISO 3166 alpha-2) a travel pack's allowance may be used in; nil: at home (``Bucket/coverage``).
    public let coverage: Set<String>?

    public init(kind: BucketKind, amount: Int64, name: String?, validFrom: Date?, validUntil: Date?, priority: Int,
                coverage: Set<String>? = nil) throws(RechargeError) {
        guard amount > 0 else { throw .nonPositiveAmount(String(amount)) }
        if let name, name.count > 100 { throw .invalidRequest("Bucket name must be at most 100 characters.") }
        if let validFrom, let validUntil, validUntil <= validFrom {
            throw .invalidRequest("validUntil must be later than validFrom.")
        }
        guard (-1000...1000).contains(priority) else { throw .invalidRequest("priority must be between -1000 and 1000.") }
        self.kind = kind
        self.amount = amount
        self.name = name
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.priority = priority
        if let coverage, coverage.isEmpty || !coverage.allSatisfy({ $0.utf8.count == 2 && $0.utf8.allSatisfy { $0 >= 0x41 && $0 <= 0x5A } }) {
            throw .invalidRequest("coverage must be ISO 3166 alpha-2 country codes (JP, CN).")
        }
        self.coverage = kind == .monetary ? nil : coverage
    }

    /// Default consumption priority of granted buckets: before the main balance (which has 1000).
    public static let defaultPriority = 100
}

/// What a top-up adds: money to the main balance, or a new bucket.
public enum TopUpValue: Sendable, Equatable {
    case money(Money)
    case bucket(BucketGrant, currency: Currency?)
}

/// A request to add value to a line.
public struct TopUpCommand: Sendable, Equatable {
    public let msisdn: MSISDN
    public let value: TopUpValue
    public let channel: Channel
    public let reference: String?

    public init(msisdn: MSISDN, value: TopUpValue, channel: Channel, reference: String?) throws(RechargeError) {
        switch value {
        case .money(let money):
            guard money.isPositive else { throw .nonPositiveAmount(money.decimalString) }
            guard money.micros <= Self.maximumAmount else { throw .amountOverflow }
        case .bucket(let grant, let currency):
            guard grant.amount <= Self.maximumAmount else { throw .amountOverflow }
            if grant.kind == .monetary, currency == nil { throw .invalidRequest("A monetary bucket needs a currency.") }
        }
        try Self.checkReference(reference)
        self.msisdn = msisdn
        self.value = value
        self.channel = channel
        self.reference = reference
    }

    /// The most one operation may move: 10^15 units (a billion dollars in micro-units, a petabyte of data),
    /// so no sum of a few operations can come near Int64 overflow.
    public static let maximumAmount: Int64 = 1_000_000_000_000_000

    static func checkReference(_ reference: String?) throws(RechargeError) {
        if let reference, reference.isEmpty || reference.utf8.count > 200 {
            throw .invalidRequest("reference must be 1 to 200 bytes.")
        }
    }

    /// A canonical text of everything that makes this request what it is; two requests with one
    /// idempotency key must have the same fingerprint.
    public var fingerprint: String {
        // Free text is escaped so a `|` in it cannot shift the fields after it, and a missing name is
        // written differently from an empty one; every other field is fixed-format without `|` or `\`.
        var parts = ["topup", msisdn.e164, channel.rawValue, reference.map(Self.escapedForFingerprint) ?? ""]
        switch value {
        case .money(let money):
            parts += ["money", money.currency.code, String(money.micros)]
        case .bucket(let grant, let currency):
            parts += [
                "bucket", grant.kind.rawValue, currency?.code ?? "", String(grant.amount),
                grant.name.map(Self.escapedForFingerprint) ?? "\\0",
                grant.validFrom.map { String(Int64($0.timeIntervalSince1970 * 1_000_000)) } ?? "",
                grant.validUntil.map { String(Int64($0.timeIntervalSince1970 * 1_000_000)) } ?? "",
                String(grant.priority),
            ]
            // Only a covered grant says so: every earlier fingerprint stays what it was.
            if let coverage = grant.coverage { parts.append("coverage:" + coverage.sorted().joined(separator: ",")) }
        }
        return parts.joined(separator: "|")
    }

    /// `\` → `\\` and `|` → `\|`: after this a backslash is always followed by `\` or `|`, so the joined
    /// fingerprint splits back into its fields in exactly one way (and `\0` is free to mean "absent").
    /// Works on Unicode scalars, so a `|` followed by a combining mark is escaped too.
    static func escapedForFingerprint(_ text: String) -> String {
        var escaped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar == "\\" || scalar == "|" { escaped.append("\\") }
            escaped.append(scalar)
        }
        return String(escaped)
    }
}

/// A request to charge a line: usage or a purchase, drawn from its buckets in consumption order.
public struct DebitCommand: Sendable, Equatable {
    public let msisdn: MSISDN
    public let kind: BucketKind
    /// Bytes, seconds, SMS, or micro-units for money.
    public let amount: Int64
    /// Set for monetary debits: must be the line's currency.
    public let currency: Currency?
    public let channel: Channel
    public let reference: String?
    /// Draw only from the main balance, never below zero (refunds: money paid in goes back out of the balance
    /// it went into, not out of bonus or pack buckets, and never into credit).
    public let mainBalanceOnly: Bool
    /// Draw only from this bucket, never below zero (a pack refund takes back exactly the buckets the pack granted).
    public let bucketID: Int64?

    public init(msisdn: MSISDN, kind: BucketKind, amount: Int64, currency: Currency?, channel: Channel, reference: String?,
                mainBalanceOnly: Bool = false, bucketID: Int64? = nil) throws(RechargeError) {
        guard amount > 0 else { throw .nonPositiveAmount(String(amount)) }
        guard amount <= TopUpCommand.maximumAmount else { throw .amountOverflow }
        if kind == .monetary, currency == nil { throw .invalidRequest("A monetary debit needs a currency.") }
        try TopUpCommand.checkReference(reference)
        self.msisdn = msisdn
        self.kind = kind
        self.amount = amount
        self.currency = kind == .monetary ? currency : nil
        self.channel = channel
        self.reference = reference
        self.mainBalanceOnly = mainBalanceOnly
        self.bucketID = bucketID
    }

    public var fingerprint: String {
        ["debit", msisdn.e164, kind.rawValue, currency?.code ?? "", String(amount), channel.rawValue, reference ?? ""]
            .joined(separator: "|") + (mainBalanceOnly ? "|main" : "") + (bucketID.map { "|bucket:\($0)" } ?? "")
    }
}

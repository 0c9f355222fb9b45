import Foundation

/// Where a notification goes. `dev` is the development inbox: the text is logged and kept, nothing leaves
/// the host.
public enum NotificationChannel: String, Sendable, Codable, CaseIterable, Hashable {
    case sms
    case email
    case dev
}

/// The languages templates exist for. A subscriber's language that is not one of these falls back to English.
public enum NotificationLanguage: String, Sendable, Codable, CaseIterable, Hashable {
    case english = "en"
    case simplifiedChinese = "zh-Hans"

    /// `zh`, `zh-CN`, `zh-Hans-CN` … → simplified Chinese; anything else (or nothing) → English.
    public init(tag: String?) {
        let tag = (tag ?? "").lowercased()
        self = tag == "zh" || tag.hasPrefix("zh-hans") || tag == "zh-cn" || tag == "zh-sg" ? .simplifiedChinese : .english
    }
}

/// How long before a line's or a bucket's validity ends the reminder is sent.
public enum ValidityNotice: Int, Sendable, Codable, CaseIterable, Hashable {
    case sevenDays = 7
    case oneDay = 1

    public var seconds: TimeInterval { TimeInterval(rawValue) * 86_400 }

    /// The notice due for something that ends at `validUntil`, seen at `now`: one day when it ends within a day,
    /// seven days when within seven days (but more than one), else none. Exactly one notice per window, so a
    /// bucket first seen six hours before its end gets only the one-day reminder.
    public static func due(validUntil: Date, now: Date) -> ValidityNotice? {
        let left = validUntil.timeIntervalSince(now)
        guard left > 0 else { return nil }
        if left <= ValidityNotice.oneDay.seconds { return .oneDay }
        if left <= ValidityNotice.sevenDays.seconds { return .sevenDays }
        return nil
    }
}

/// The bucket a validity reminder is about, when it is not the line itself: a data, voice or SMS pack or a
/// monetary bucket of its own (a bonus). `remaining` is in the bucket's unit: micro-units of the line's
/// currency for money, bytes, seconds or a count of messages.
public struct ExpiringBucket: Sendable, Hashable, Codable {
    public let kind: BucketKind
    public let name: String?
    public let remaining: Int64

    public init(kind: BucketKind, name: String?, remaining: Int64) {
        self.kind = kind
        self.name = name
        self.remaining = remaining
    }
}

/// Why a pack did not renew.
public enum PackRenewalFailure: String, Sendable, Hashable, Codable {
    /// The balance was less than the pack's price.
    case insufficientBalance = "insufficient_balance"
    /// The pack is no longer sold (or no longer renews, or has no price in the line's currency).
    case noLongerSold = "no_longer_sold"
    /// The line is suspended or terminated.
    case lineNotActive = "line_not_active"
}

/// A bucket a promotion granted, as a notification shows it: how much of what, until when.
public struct GrantedBonus: Sendable, Hashable, Codable {
    public let kind: BucketKind
    /// Bytes, seconds or SMS.
    public let amount: Int64
    public let validUntil: Date

    public init(kind: BucketKind, amount: Int64, validUntil: Date) {
        self.kind = kind
        self.amount = amount
        self.validUntil = validUntil
    }
}

/// Something a subscriber is told about, with exactly the values its templates show. Amounts are ``Money``
/// (Int64 micro-units and a currency); data in bytes, voice in seconds, all `Int64`.
public enum NotificationEvent: Sendable, Hashable, Codable {
    case topUpApplied(amount: Money, balance: Money, channel: Channel)
    case debitApplied(amount: Money, balance: Money)
    /// A data, voice or SMS pack is used up. `packName` may be empty (a pack granted without a name).
    case packUsedUp(packName: String, kind: BucketKind)
    case lowBalance(balance: Money, threshold: Money)
    /// The validity of the line (`bucket` nil) or of one bucket ends in 7 days or 1 day; `balance` is the line's
    /// monetary balance.
    case validityEnding(notice: ValidityNotice, validUntil: Date, balance: Money, bucket: ExpiringBucket?)
    case oneTimeCode(code: String, validMinutes: Int)
    /// The phone number or email address notifications go to was changed; `maskedNewValue` never shows it whole.
    case contactChanged(contactChannel: NotificationChannel, maskedNewValue: String)
    case voucherRedeemed(amount: Money, balance: Money, voucherSerial: String)
    case paymentFailed(amount: Money, reason: String)
    case refund(amount: Money, balance: Money)
    /// A data pack was granted; `bytes` of data valid until `validUntil` (nil: no end).
    case dataPackAdded(bytes: Int64, validUntil: Date?)
    /// A promotion granted buckets with an order (bonus data, minutes, SMS): `promotionName` in the recipient's
    /// language, each bucket with its end.
    case bonusGranted(promotionName: String, grants: [GrantedBonus])
    /// A pack marked to renew was bought again from the balance for another period, to `validUntil`.
    case packRenewed(packName: String, price: Money, balance: Money, validUntil: Date)
    /// A pack could not renew; it ends at `validUntil` and is not renewed again.
    case packRenewalFailed(packName: String, price: Money, balance: Money, validUntil: Date, reason: PackRenewalFailure)
    /// A guest's order for a number was fulfilled: sent to the contact the guest gave (``GuestContact``), with only
    /// what the guest typed and paid — the number, what was bought, the price, the order — never the balance.
    case guestRecharge(number: String, item: String, price: Money, orderID: String)
    /// Money ran out during use: chargeable service stopped (emergency calls still work) until a recharge.
    case serviceSuspended(number: String)
    /// A credit arrived on a barred line: service is back, with `balance` to spend.
    case serviceRestored(number: String, balance: Money)

    /// The template name, and the `event` column of the outbox.
    public enum Name: String, Sendable, Codable, CaseIterable, Hashable {
        case topUpApplied = "top_up_applied"
        case debitApplied = "debit_applied"
        case packUsedUp = "pack_used_up"
        case lowBalance = "low_balance"
        case validityEnding = "validity_ending"
        case oneTimeCode = "one_time_code"
        case contactChanged = "contact_changed"
        case voucherRedeemed = "voucher_redeemed"
        case paymentFailed = "payment_failed"
        case refund
        case dataPackAdded = "data_pack_added"
        case packRenewed = "pack_renewed"
        case bonusGranted = "bonus_granted"
        case packRenewalFailed = "pack_renewal_failed"
        case guestRecharge = "guest_recharge"
        case serviceSuspended = "service_suspended"
        case serviceRestored = "service_restored"
    }

    public var name: Name {
        switch self {
        case .topUpApplied: .topUpApplied
        case .debitApplied: .debitApplied
        case .packUsedUp: .packUsedUp
        case .lowBalance: .lowBalance
        case .validityEnding: .validityEnding
        case .oneTimeCode: .oneTimeCode
        case .contactChanged: .contactChanged
        case .voucherRedeemed: .voucherRedeemed
        case .paymentFailed: .paymentFailed
        case .refund: .refund
        case .dataPackAdded: .dataPackAdded
        case .packRenewed: .packRenewed
        case .bonusGranted: .bonusGranted
        case .packRenewalFailed: .packRenewalFailed
        case .guestRecharge: .guestRecharge
        case .serviceSuspended: .serviceSuspended
        case .serviceRestored: .serviceRestored
        }
    }

    /// The event as anyone but its recipient may see it: a one-time code is masked. What the outbox API and the
    /// `/dev` pages render, so an admin key cannot take over a subscriber's portal account with a code.
    public var redacted: NotificationEvent {
        switch self {
        case .oneTimeCode(_, let validMinutes): .oneTimeCode(code: "••••••", validMinutes: validMinutes)
        case .topUpApplied, .debitApplied, .packUsedUp, .lowBalance, .validityEnding, .contactChanged, .voucherRedeemed,
             .paymentFailed, .refund, .dataPackAdded, .packRenewed, .packRenewalFailed, .bonusGranted, .guestRecharge, .serviceSuspended,
             .serviceRestored:
            self
        }
    }

    /// A realistic, deliberately long-ish instance of each event: for `recharge notify preview` and for the
    /// tests that check every template renders within its SMS part budget.
    public static func sample(_ name: Name, now: Date) -> NotificationEvent {
        let usd = { (micros: Int64) in Money(micros: micros, currency: .usd) }
        switch name {
        case .topUpApplied: return .topUpApplied(amount: usd(1_250_000_000), balance: usd(1_234_567_890_000), channel: .wechatPay)
        case .debitApplied: return .debitApplied(amount: usd(12_340_000), balance: usd(987_650_000))
        case .packUsedUp: return .packUsedUp(packName: "Unlimited Talk & Text Travel 30", kind: .data)
        case .lowBalance: return .lowBalance(balance: usd(4_990_000), threshold: usd(5_000_000))
        case .validityEnding:
            return .validityEnding(notice: .sevenDays, validUntil: now.addingTimeInterval(7 * 86_400), balance: usd(123_450_000),
                                   bucket: ExpiringBucket(kind: .data, name: "Unlimited Talk & Text Travel 30", remaining: 10_737_418_240))
        case .oneTimeCode: return .oneTimeCode(code: "829104", validMinutes: 10)
        case .contactChanged: return .contactChanged(contactChannel: .email, maskedNewValue: "l***i@example.com")
        case .voucherRedeemed: return .voucherRedeemed(amount: usd(100_000_000), balance: usd(1_100_000_000), voucherSerial: "VCH-2026-000123456")
        case .paymentFailed: return .paymentFailed(amount: usd(30_000_000), reason: "card_declined")
        case .refund: return .refund(amount: usd(30_000_000), balance: usd(1_080_000_000))
        case .dataPackAdded: return .dataPackAdded(bytes: 10_737_418_240, validUntil: now.addingTimeInterval(30 * 86_400))
        case .bonusGranted:
            return .bonusGranted(promotionName: "Spring Festival: recharge 30, get 2 GB",
                                 grants: [GrantedBonus(kind: .data, amount: 2 << 30, validUntil: now.addingTimeInterval(15 * 86_400)),
                                          GrantedBonus(kind: .sms, amount: 100, validUntil: now.addingTimeInterval(7 * 86_400))])
        case .packRenewed:
            return .packRenewed(packName: "Unlimited Talk & Text Travel 30", price: usd(35_000_000), balance: usd(1_234_560_000),
                                validUntil: now.addingTimeInterval(30 * 86_400))
        case .packRenewalFailed:
            return .packRenewalFailed(packName: "Unlimited Talk & Text Travel 30", price: usd(35_000_000), balance: usd(12_340_000),
                                      validUntil: now.addingTimeInterval(86_400), reason: .insufficientBalance)
        case .guestRecharge:
            return .guestRecharge(number: "+14155550100", item: "$20 credit", price: usd(20_000_000), orderID: "ord_abcdefghjkmnpqrstvwxyz23")
        case .serviceSuspended: return .serviceSuspended(number: "+14155550100")
        case .serviceRestored: return .serviceRestored(number: "+14155550100", balance: usd(1_234_567_890_000))
        }
    }
}

extension Money: Codable {
    private enum CodingKeys: String, CodingKey { case micros, currency }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(micros: try container.decode(Int64.self, forKey: .micros), currency: try container.decode(Currency.self, forKey: .currency))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(micros, forKey: .micros)
        try container.encode(currency, forKey: .currency)
    }
}

/// One message to queue: an event for one recipient on one channel. `eventKey` identifies the event (derived
/// from the idempotency key of the operation that caused it), so the same event is never queued twice on a
/// channel, however often the operation is retried.
public struct OutgoingNotification: Sendable, Hashable {
    public let eventKey: String
    public let channel: NotificationChannel
    public let recipient: String
    public let language: NotificationLanguage
    public let event: NotificationEvent

    public init(eventKey: String, channel: NotificationChannel, recipient: String, language: NotificationLanguage, event: NotificationEvent) throws(RechargeError) {
        guard !eventKey.isEmpty, eventKey.utf8.count <= 300 else { throw .invalidRequest("a notification event key must be 1 to 300 bytes") }
        guard !recipient.isEmpty, recipient.utf8.count <= 320 else { throw .invalidRequest("a notification recipient must be 1 to 320 bytes") }
        if channel == .email, !recipient.contains("@") {
            throw .invalidRequest("notification recipient '\(recipient)' is not an email address")
        }
        self.eventKey = eventKey
        self.channel = channel
        self.recipient = recipient
        self.language = language
        self.event = event
    }

    /// The event key of an event caused by a ledger operation: `op:<idempotency key>:<event>`.
    public static func eventKey(operationKey: String, _ name: NotificationEvent.Name) -> String {
        "op:\(operationKey):\(name.rawValue)"
    }

    /// The event key of a pack emptied by a ledger operation: `op:<idempotency key>:pack_used_up:<bucket id>`
    /// (one debit may empty two packs of a kind).
    public static func packUsedUpKey(operationKey: String, bucketID: Int64) -> String {
        "\(eventKey(operationKey: operationKey, .packUsedUp)):\(bucketID)"
    }

    /// The event key of a validity reminder for a bucket: `bucket:<id>:expiry:7d` or `…:1d`. A bucket's
    /// `valid_until` never changes, so the key names the condition exactly once.
    public static func expiryKey(bucketID: Int64, notice: ValidityNotice) -> String {
        "bucket:\(bucketID):expiry:\(notice.rawValue)d"
    }
}

/// Where and how a line is notified: from `notification_preferences` when the subscriber set them, else the
/// defaults (SMS to the line's own number, email to the subscriber's address when there is one, the
/// subscriber's language).
public struct NotificationContact: Sendable, Hashable {
    public var msisdn: String
    public var email: String?
    public var language: NotificationLanguage
    public var smsEnabled: Bool
    public var emailEnabled: Bool

    public init(msisdn: String, email: String?, language: NotificationLanguage, smsEnabled: Bool = true, emailEnabled: Bool = true) {
        self.msisdn = msisdn
        self.email = email
        self.language = language
        self.smsEnabled = smsEnabled
        self.emailEnabled = emailEnabled
    }

    /// One notification per enabled channel that has a usable address. An address that cannot be used (an
    /// email without `@`, a value too long) is left out rather than failing the operation that caused the event.
    public func notifications(for event: NotificationEvent, eventKey: String) -> [OutgoingNotification] {
        var result: [OutgoingNotification] = []
        if smsEnabled, let sms = try? OutgoingNotification(eventKey: eventKey, channel: .sms, recipient: msisdn, language: language, event: event) {
            result.append(sms)
        }
        if emailEnabled, let email, let mail = try? OutgoingNotification(eventKey: eventKey, channel: .email, recipient: email, language: language, event: event) {
            result.append(mail)
        }
        return result
    }
}

/// The low-balance alarm of one line: it fires once when the monetary balance goes below the threshold and
/// re-arms only when the balance is back at or above it, so a line hovering under the threshold is told once.
public struct LowBalanceAlarm: Sendable, Hashable {
    /// The threshold when the line has none of its own: 5.00 in the line's currency.
    public static let defaultThresholdMajorUnits: Int64 = 5

    public let threshold: Int64
    public private(set) var armed: Bool

    public init(threshold: Int64, armed: Bool) {
        self.threshold = threshold
        self.armed = armed
    }

    public static func defaultThreshold(for currency: Currency) -> Money {
        Money(micros: defaultThresholdMajorUnits * Money.microsPerUnit, currency: currency)
    }

    /// A debit left the balance at `balance`: true when this is the crossing that must be announced (the
    /// alarm was armed and the balance is now below the threshold); the alarm is then disarmed.
    public mutating func debited(to balance: Int64) -> Bool {
        guard armed, balance < threshold else { return false }
        armed = false
        return true
    }

    /// A credit left the balance at `balance`: the alarm re-arms once the balance is at or above the threshold.
    public mutating func credited(to balance: Int64) {
        if balance >= threshold { armed = true }
    }
}

/// When a failed delivery is tried again: exponential back-off with jitter, and how many attempts at most.
public struct OutboxRetryPolicy: Sendable, Hashable {
    public var maximumAttempts: Int
    public var initialDelay: Duration
    public var maximumDelay: Duration

    public init(maximumAttempts: Int = 8, initialDelay: Duration = .seconds(30), maximumDelay: Duration = .seconds(3600)) {
        precondition(maximumAttempts >= 1, "at least one attempt")
        self.maximumAttempts = maximumAttempts
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
    }

    /// The delay after failed attempt number `attempt` (1-based): `initialDelay · 2^(attempt-1)`, capped at
    /// `maximumDelay`, then scaled into [50 %, 100 %] by `jitter` (0…1), so nodes that failed together
    /// do not retry together.
    public func delay(afterAttempt attempt: Int, jitter: Double) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let base = initialDelay * (1 << exponent)
        let capped = base > maximumDelay ? maximumDelay : base
        let fraction = 0.5 + 0.5 * min(max(jitter, 0), 1)
        return capped * fraction
    }

    /// Whether an attempt that failed transiently may be tried again.
    public func allowsRetry(afterAttempt attempt: Int) -> Bool { attempt < maximumAttempts }
}

/// A line's notification settings as the subscriber set them (`PUT …/notification-preferences`).
public struct NotificationPreferences: Sendable, Equatable {
    /// The highest threshold accepted: one billion major units, as for credit limits.
    public static let maximumThresholdMicros: Int64 = 1_000_000_000 * Money.microsPerUnit

    public let smsEnabled: Bool
    public let emailEnabled: Bool
    /// The line's own address for email; nil means the subscriber's address (if there is one).
    public let email: String?
    public let language: NotificationLanguage
    public let lowBalanceThreshold: Money

    public init(smsEnabled: Bool, emailEnabled: Bool, email: String?, language: NotificationLanguage, lowBalanceThreshold: Money) throws(RechargeError) {
        if let email { try Self.validate(email: email) }
        guard !lowBalanceThreshold.isNegative else {
            throw .invalidAmount(lowBalanceThreshold.decimalString, reason: "a low-balance threshold cannot be negative")
        }
        guard lowBalanceThreshold.micros <= Self.maximumThresholdMicros else { throw .amountOverflow }
        self.smsEnabled = smsEnabled
        self.emailEnabled = emailEnabled
        self.email = email
        self.language = language
        self.lowBalanceThreshold = lowBalanceThreshold
    }

    /// One `@`, a non-empty local part, a dotted domain, no spaces or control characters, at most 254 bytes.
    public static func validate(email: String) throws(RechargeError) {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
              email.utf8.count <= 254, !email.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F })
        else { throw .invalidRequest("email '\(email)' is not an email address.") }
    }

    /// An address shown without giving it away: `l***i@example.com`, `l***@example.com` for a one-letter local part.
    public static func masked(email: String) -> String {
        guard let at = email.lastIndex(of: "@") else { return "***" }
        let local = email[..<at]
        let domain = email[at...]
        guard let first = local.first else { return "***\(domain)" }
        return local.count > 2 ? "\(first)***\(local.last!)\(domain)" : "\(first)***\(domain)"
    }
}

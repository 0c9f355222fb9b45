import Foundation
import RechargeCore
import SQLKit

/// A line's notification settings in effect: its own preferences where it has them, else the defaults (SMS
/// on, email on to the subscriber's address, the subscriber's language, a threshold of 5.00).
public struct EffectiveNotificationPreferences: Sendable, Equatable {
    public let msisdn: String
    public let smsEnabled: Bool
    public let emailEnabled: Bool
    /// The address email goes to: the line's own, else the subscriber's; nil when there is none.
    public let email: String?
    public let language: NotificationLanguage
    public let lowBalanceThreshold: Money
    /// Where SMS notices go when not to the line itself (its portal account's notification phone); nil: the line.
    public let smsPhone: String?
}

/// Reads and changes `notification_preferences`. A change of the email address notifies the old and the new
/// address (`contact_changed`, email channel, whatever `emailEnabled` says: it is a security notice) in the
/// same transaction.
public struct NotificationPreferencesStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func preferences(_ msisdn: MSISDN) async throws -> EffectiveNotificationPreferences {
        try await database.read { db in
            guard let row = try await NotificationContactRow.load(msisdns: [msisdn.e164], in: db)[msisdn.e164] else {
                throw RechargeError.lineNotFound(msisdn.e164)
            }
            return Self.effective(row)
        }
    }

    /// Replaces the line's preferences. The threshold must be in the line's currency. Queues the
    /// `contact_changed` notices when the address email goes to changes, and re-arms the low-balance alarm when
    /// the balance is at or above the new threshold. Returns the preferences now in effect.
    public func replace(_ msisdn: MSISDN, with preferences: NotificationPreferences, now: Date) async throws -> EffectiveNotificationPreferences {
        let forUpdate = database.forUpdate
        return try await database.transaction { db in
            // The line row is locked so two changes of one line's preferences queue their notices in order.
            let line = try await LedgerStore.loadLine(db, msisdn, lock: forUpdate)
            guard preferences.lowBalanceThreshold.currency == line.currency else {
                throw RechargeError.currencyMismatch(expected: line.currency.code, got: preferences.lowBalanceThreshold.currency.code)
            }
            guard let before = try await NotificationContactRow.load(lineIDs: [line.id], in: db)[line.id] else {
                throw RechargeError.lineNotFound(msisdn.e164)
            }
            let version = try await db.raw("SELECT email_version FROM notification_preferences WHERE line_id = \(bind: line.id)").first()
                .map { try $0.int64("email_version") } ?? 0
            let subscriberEmail = try await db.raw("""
                SELECT s.email FROM lines l JOIN subscribers s ON s.id = l.subscriber_id WHERE l.id = \(bind: line.id)
                """).first().flatMap { try $0.optional("email", as: String.self) }
            let oldAddress = before.contact.email
            let newAddress = preferences.email ?? subscriberEmail
            let changed = oldAddress?.lowercased() != newAddress?.lowercased()
            let balance = try await NotificationContactRow.monetaryBalances(lineIDs: [line.id], at: now, in: db)[line.id] ?? 0
            let armed = before.armed || balance >= preferences.lowBalanceThreshold.micros
            let newVersion = changed ? version + 1 : version
            try await db.raw("""
                INSERT INTO notification_preferences
                    (line_id, sms_enabled, email_enabled, email, language, low_balance_threshold, low_balance_armed, email_version, updated_at)
                VALUES (\(bind: line.id), \(bind: preferences.smsEnabled ? 1 : 0), \(bind: preferences.emailEnabled ? 1 : 0),
                        \(bind: preferences.email), \(bind: preferences.language.rawValue), \(bind: preferences.lowBalanceThreshold.micros),
                        \(bind: armed ? 1 : 0), \(bind: newVersion), \(bind: now.unixMicros))
                ON CONFLICT (line_id) DO UPDATE SET
                    sms_enabled = excluded.sms_enabled, email_enabled = excluded.email_enabled, email = excluded.email,
                    language = excluded.language, low_balance_threshold = excluded.low_balance_threshold,
                    low_balance_armed = excluded.low_balance_armed, email_version = excluded.email_version, updated_at = excluded.updated_at
                """).run()
            if changed {
                let notices = Self.emailChangedNotices(
                    eventKey: "line:\(line.id):email:\(newVersion)", oldAddresses: oldAddress.map { [$0] } ?? [], newAddress: newAddress,
                    language: preferences.language)
                try await OutboxStore.enqueue(notices, now: now, in: db)
            }
            guard let after = try await NotificationContactRow.load(lineIDs: [line.id], in: db)[line.id] else {
                throw RechargeError.lineNotFound(msisdn.e164)
            }
            return Self.effective(after)
        }
    }

    /// The `contact_changed` notices of a change of the email address: one to each old address (`<key>:old`, then
    /// `<key>:old:2` …) and one to the new (`<key>:new`). Addresses that cannot be used are left out.
    static func emailChangedNotices(eventKey: String, oldAddresses: [String], newAddress: String?, language: NotificationLanguage) -> [OutgoingNotification] {
        let masked = newAddress.map(NotificationPreferences.masked(email:)) ?? "-"
        let event = NotificationEvent.contactChanged(contactChannel: .email, maskedNewValue: masked)
        var recipients = oldAddresses.enumerated().map { index, address in (address, index == 0 ? "old" : "old:\(index + 1)") }
        if let newAddress { recipients.append((newAddress, "new")) }
        return recipients.compactMap { address, side in
            try? OutgoingNotification(eventKey: "\(eventKey):\(side)", channel: .email, recipient: address, language: language, event: event)
        }
    }

    static func effective(_ row: NotificationContactRow) -> EffectiveNotificationPreferences {
        EffectiveNotificationPreferences(
            msisdn: row.msisdn, smsEnabled: row.contact.smsEnabled, emailEnabled: row.contact.emailEnabled, email: row.contact.email,
            language: row.contact.language, lowBalanceThreshold: Money(micros: row.threshold, currency: row.currency), smsPhone: row.smsPhone)
    }
}

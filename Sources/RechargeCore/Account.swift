import Foundation

/// A subscriber's portal account: logs in with a phone number (verified by an SMS code at registration) and a
/// password, and holds the lines the subscriber proved they own.
public struct Account: Sendable, Equatable {
    public let id: Int64
    /// The login number.
    public let phone: MSISDN
    /// The verified address notices go to (nil: none).
    public let email: String?
    /// Where SMS notices of the account's lines go when not to each line itself (nil: each line).
    public let notifyPhone: MSISDN?
    public let language: NotificationLanguage
    public let createdAt: Date

    public init(id: Int64, phone: MSISDN, email: String?, notifyPhone: MSISDN?, language: NotificationLanguage, createdAt: Date) {
        self.id = id
        self.phone = phone
        self.email = email
        self.notifyPhone = notifyPhone
        self.language = language
        self.createdAt = createdAt
    }
}

/// What a one-time code proves. A code is only ever accepted for the purpose (and target) it was issued for.
public enum VerificationPurpose: String, Sendable, CaseIterable {
    case register
    case passwordReset = "password_reset"
    case addLine = "add_line"
    case changePhone = "change_phone"
    case changeEmail = "change_email"
}

/// Why an account operation was refused.
public enum AccountError: Error, Sendable, Equatable {
    /// Wrong, expired, used, tried too often, or never issued: deliberately never says which (nor whether the
    /// number is registered).
    case codeInvalid
    /// Five codes were already sent to one target and purpose within an hour.
    case tooManyCodes(retryAfterSeconds: Int)
    /// The line is already on another account.
    case lineTaken(String)
    case lineNotOnAccount(String)
    case accountNotFound
}

/// Growing delays after failed logins to one phone number: below five consecutive failures no lock; at five a
/// 60 s lock, doubling with each further failure, capped at one hour.
public enum LoginLockoutPolicy {
    public static let threshold = 5
    public static let firstLock: TimeInterval = 60
    public static let maximumLock: TimeInterval = 3600

    /// How long to lock after `afterFailures` consecutive failures; nil: no lock.
    public static func lock(afterFailures failures: Int) -> TimeInterval? {
        guard failures >= threshold else { return nil }
        // 60 · 2^6 = 3840 is already past the cap, so the exponent never needs to go higher.
        let doublings = min(failures - threshold, 6)
        return min(firstLock * Double(1 << doublings), maximumLock)
    }
}

// TEMPORARY stub (deleted when the accounts-store branch is merged).
import Foundation
public struct Account: Sendable, Equatable {
    public let id: Int64
    public let phone: MSISDN
    public let email: String?
    public let notifyPhone: MSISDN?
    public let language: NotificationLanguage
    public let createdAt: Date
}
public enum VerificationPurpose: String, Sendable, CaseIterable { case register, passwordReset = "password_reset", addLine = "add_line", changePhone = "change_phone", changeEmail = "change_email" }
public enum AccountError: Error, Sendable, Equatable {
    case codeInvalid
    case tooManyCodes(retryAfterSeconds: Int)
    case lineTaken(String)
    case lineNotOnAccount(String)
    case accountNotFound
}
public enum LoginLockoutPolicy { public static func lock(afterFailures: Int) -> TimeInterval? { nil } }

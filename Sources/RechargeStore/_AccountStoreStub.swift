// TEMPORARY stub (deleted when the accounts-store branch is merged).
import Foundation
import RechargeCore
public struct PortalSession: Sendable, Equatable { public let token: String; public let csrfToken: String; public let accountID: Int64; public let expiresAt: Date }
public struct IssuedCode: Sendable { public let code: String; public let expiresAt: Date }
public struct AccountStore: Sendable {
    public static let codeLifetime: TimeInterval = 600
    public static let maxCodeAttempts = 5
    public static let sessionIdleTimeout: TimeInterval = 1800
    public static let sessionLifetime: TimeInterval = 43_200
    public let database: Database
    public init(database: Database) { self.database = database }
    public func issueCode(purpose: VerificationPurpose, target: String, accountID: Int64?, language: NotificationLanguage, now: Date) async throws -> IssuedCode { fatalError() }
    public func register(phone: MSISDN, code: String, passwordHash: String, email: String?, language: NotificationLanguage, now: Date) async throws -> Account { fatalError() }
    public func credentials(phone: MSISDN) async throws -> (account: Account, passwordHash: String)? { fatalError() }
    public func account(id: Int64) async throws -> Account? { fatalError() }
    public func resetPassword(phone: MSISDN, code: String, passwordHash: String, now: Date) async throws { fatalError() }
    public func changePassword(accountID: Int64, passwordHash: String, keepingSession token: String, now: Date) async throws { fatalError() }
    public func loginLockedUntil(phone: String, now: Date) async throws -> Date? { fatalError() }
    public func recordLoginFailure(phone: String, now: Date) async throws -> Date? { fatalError() }
    public func recordLoginSuccess(phone: String) async throws { fatalError() }
    public func createSession(accountID: Int64, replacing previousToken: String?, now: Date) async throws -> PortalSession { fatalError() }
    public func session(token: String, now: Date) async throws -> (session: PortalSession, account: Account)? { fatalError() }
    public func endSession(token: String) async throws { fatalError() }
    public func lines(accountID: Int64) async throws -> [MSISDN] { fatalError() }
    public func owns(accountID: Int64, msisdn: MSISDN) async throws -> Bool { fatalError() }
    public func addLine(accountID: Int64, msisdn: MSISDN, code: String, now: Date) async throws { fatalError() }
    public func removeLine(accountID: Int64, msisdn: MSISDN, now: Date) async throws { fatalError() }
    public func changeEmail(accountID: Int64, email: String, code: String, now: Date) async throws -> Account { fatalError() }
    public func changeNotifyPhone(accountID: Int64, phone: MSISDN, code: String, now: Date) async throws -> Account { fatalError() }
    public func setLanguage(accountID: Int64, language: NotificationLanguage, now: Date) async throws -> Account { fatalError() }
}

import Foundation
import RechargeCore

/// How the portal treats cookies, passwords and one-time codes, and the limits that keep an anonymous visitor's
/// requests cheap (docs/security.md lists each with its default and variable).
public struct PortalConfiguration: Sendable {
    /// `Secure` on every cookie. Browsers accept Secure cookies from http://localhost; a deployment reached over
    /// plain http on another host turns this off (`RECHARGE_PORTAL_INSECURE_COOKIES=1`) — better: put TLS in front.
    public var secureCookies: Bool
    /// bcrypt's cost factor (2^cost rounds). 12 in production; tests lower it.
    public var bcryptCost: UInt8
    /// Writes every one-time code to the server log: only `--demo` turns it on (a code in a log is an account
    /// taken over by whoever reads the log).
    public var logCodes: Bool
    /// bcrypt computations at once (`RECHARGE_PORTAL_BCRYPT_CONCURRENCY`, default the core count).
    public var bcryptConcurrency: Int
    /// Further bcrypt computations that may wait for a slot before the next is refused with 429
    /// (`RECHARGE_PORTAL_BCRYPT_QUEUE`, default four per slot).
    public var bcryptWaiting: Int?
    /// Which numbers an anonymous visitor may have a code texted to (`RECHARGE_PORTAL_SMS_PREFIXES`, default the
    /// ranges of the lines in the database).
    public var smsDestinations: SMSDestinationRule
    /// Codes texted per client address, per destination prefix and in all, per hour
    /// (`RECHARGE_PORTAL_SMS_PER_CLIENT`, `…_PER_PREFIX`, `…_PER_HOUR`: 10, 300, 1000).
    public var smsBudget: SMSCodeBudget
    /// Failed logins per (number, client address), per number and per client address
    /// (`RECHARGE_PORTAL_LOGIN_FAILURES_PER_CLIENT`, `…_PER_NUMBER`, `…_PER_ADDRESS`: 5, 50, 100).
    public var loginLockout: LoginLockout
    /// Whose `X-Forwarded-For` is believed (`RECHARGE_PORTAL_TRUSTED_PROXIES`, default nobody's).
    public var clientAddresses: ClientAddressRule
    /// Quick-recharge pages per client address and per number, per hour: lookups (choose, review) and Pay
    /// (`RECHARGE_PORTAL_GUEST_REVIEWS_PER_CLIENT`, `…_REVIEWS_PER_NUMBER`, `…_PAYS_PER_CLIENT`, `…_PAYS_PER_NUMBER`: 60, 30, 10, 10).
    public var guestLimits: GuestRechargeLimits = GuestRechargeLimits()

    public init(secureCookies: Bool = true, bcryptCost: UInt8 = 12, logCodes: Bool = false,
                bcryptConcurrency: Int = ProcessInfo.processInfo.activeProcessorCount, bcryptWaiting: Int? = nil,
                smsDestinations: SMSDestinationRule = SMSDestinationRule(), smsBudget: SMSCodeBudget = SMSCodeBudget(),
                loginLockout: LoginLockout = LoginLockout(), clientAddresses: ClientAddressRule = ClientAddressRule()) {
        self.secureCookies = secureCookies
        self.bcryptCost = bcryptCost
        self.logCodes = logCodes
        self.bcryptConcurrency = max(1, bcryptConcurrency)
        self.bcryptWaiting = bcryptWaiting
        self.smsDestinations = smsDestinations
        self.smsBudget = smsBudget
        self.loginLockout = loginLockout
        self.clientAddresses = clientAddresses
    }

    /// This configuration with the portal's abuse limits read from `environment` (each variable optional; see the
    /// properties). What `recharge serve` calls after reading cookies, bcrypt cost and code logging.
    public func applying(environment: [String: String]) throws(PortalConfigurationError) -> PortalConfiguration {
        var portal = self
        func count(_ name: String, _ range: ClosedRange<Int> = 1...1_000_000) throws(PortalConfigurationError) -> Int? {
            guard let text = environment[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            guard let value = Int(text), range.contains(value) else {
                throw .invalid(variable: name, value: text, reason: "a whole number in \(range.lowerBound)...\(range.upperBound)")
            }
            return value
        }
        if let value = try count("RECHARGE_PORTAL_BCRYPT_CONCURRENCY", 1...1024) { portal.bcryptConcurrency = value }
        if let value = try count("RECHARGE_PORTAL_BCRYPT_QUEUE", 0...100_000) { portal.bcryptWaiting = value }
        if let text = environment["RECHARGE_PORTAL_SMS_PREFIXES"], !text.trimmingCharacters(in: .whitespaces).isEmpty {
            do { portal.smsDestinations = try SMSDestinationRule(parsing: text) } catch {
                throw .invalid(variable: "RECHARGE_PORTAL_SMS_PREFIXES", value: text, reason: "comma-separated prefixes, each + and 1 to 14 digits")
            }
        }
        if let value = try count("RECHARGE_PORTAL_SMS_PER_CLIENT", 0...1_000_000) { portal.smsBudget.perClient = value }
        if let value = try count("RECHARGE_PORTAL_SMS_PER_PREFIX", 0...1_000_000) { portal.smsBudget.perPrefix = value }
        if let value = try count("RECHARGE_PORTAL_SMS_PER_HOUR", 0...10_000_000) { portal.smsBudget.global = value }
        if let value = try count("RECHARGE_PORTAL_LOGIN_FAILURES_PER_CLIENT", 1...1000) { portal.loginLockout.perClient.threshold = value }
        if let value = try count("RECHARGE_PORTAL_LOGIN_FAILURES_PER_NUMBER", 1...100_000) { portal.loginLockout.perNumber.threshold = value }
        if let value = try count("RECHARGE_PORTAL_LOGIN_FAILURES_PER_ADDRESS", 1...1_000_000) { portal.loginLockout.perAddress.threshold = value }
        if let value = try count("RECHARGE_PORTAL_GUEST_REVIEWS_PER_CLIENT", 0...1_000_000) { portal.guestLimits.reviewPerClient = value }
        if let value = try count("RECHARGE_PORTAL_GUEST_REVIEWS_PER_NUMBER", 0...1_000_000) { portal.guestLimits.reviewPerNumber = value }
        if let value = try count("RECHARGE_PORTAL_GUEST_PAYS_PER_CLIENT", 0...1_000_000) { portal.guestLimits.payPerClient = value }
        if let value = try count("RECHARGE_PORTAL_GUEST_PAYS_PER_NUMBER", 0...1_000_000) { portal.guestLimits.payPerNumber = value }
        if let text = environment["RECHARGE_PORTAL_TRUSTED_PROXIES"] { portal.clientAddresses = try ClientAddressRule(parsing: text) }
        return portal
    }
}

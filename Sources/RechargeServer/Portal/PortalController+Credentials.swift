import Foundation
import Hummingbird
import RechargeCore
import RechargeStore

/// Passwords (through the bounded bcrypt queue) and one-time codes (sealed into the outbox).
extension PortalController {
    // MARK: Passwords, through the bounded queue

    /// Throws ``BcryptQueue/Busy`` when the queue is full: a 429 page with `Retry-After`.
    func hashPassword(_ password: String) async throws -> String {
        try await services.passwords.hash(password, cost: configuration.bcryptCost)
    }

    func dummyHash() async throws -> String {
        if let hash = dummy.withLockedValue({ $0 }) { return hash }
        let made = try await hashPassword("no account has this password")
        return dummy.withLockedValue { stored in
            if stored == nil { stored = made }
            return stored ?? made
        }
    }

    func verifyPassword(_ password: String, hash: String) async throws -> Bool {
        try await services.passwords.verify(password, hash: hash)
    }

    // MARK: One-time codes

    /// Sends a one-time code, unless it is an SMS that may not go: to a number this operator does not serve (when
    /// `servedOnly`: every code an anonymous visitor can ask for), or over a budget of ``SMSCodeBudget`` claimed for
    /// `client`. A withheld code is counted in a metric (a spent budget is an alert: someone is pumping) and logged
    /// without the code; the caller answers as if it was sent. Logs the code itself where no SMS leaves the host.
    func sendCode(_ purpose: VerificationPurpose, to target: String, accountID: Int64?, language: NotificationLanguage,
                  client: String, servedOnly: Bool) async throws -> CodeDelivery {
        var budget: [SMSCodeBudget.Claim] = []
        if let phone = try? MSISDN(target) {
            if servedOnly, try await !accounts.serves(phone, rule: configuration.smsDestinations) {
                services.metrics.makeCounter(
                    descriptor: .init(metricName: "portal_sms_destination_refused", unitName: "total",
                                      helpText: "One-time codes not texted because the number is not a line this operator serves.")
                ).increment()
                return .withheldDestination
            }
            budget = configuration.smsBudget.claims(client: client, prefix: configuration.smsDestinations.prefix(of: phone), now: clock())
        }
        let issued: IssuedCode
        do {
            issued = try await accounts.issueCode(purpose: purpose, target: target, accountID: accountID, language: language, budget: budget, now: clock())
        } catch AccountError.codeBudgetSpent(let scope) {
            services.metrics.makeCounter(
                descriptor: .init(metricName: "portal_sms_budget_tripped", unitName: "total",
                                  helpText: "One-time codes not texted because a budget (per client, per prefix, per hour) is spent: alert on any increase."),
                labels: [("budget", scope.rawValue)]
            ).increment()
            logger.warning("portal: SMS code budget spent", metadata: ["budget": "\(scope.rawValue)", "purpose": "\(purpose.rawValue)"])
            return .withheldBudget(scope)
        }
        if configuration.logCodes {
            logger.info("Verification code", metadata: ["purpose": "\(purpose.rawValue)", "to": "\(target)", "code": "\(issued.code)"])
        }
        return .sent
    }

    /// The account, or a redirect to the login page that comes back here.
    func requireAccount(_ visitor: Visitor) throws -> Account {
        guard let account = visitor.account else {
            throw PortalRedirect(location: "/login?next=" + PortalForm.encode(visitor.path))
        }
        return account
    }
}

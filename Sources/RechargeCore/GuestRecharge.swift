import Foundation

/// Where a guest wants the success message of one order: an SMS to a number or an email to an address. Used for that
/// order only: it is kept with the order (never on the line's notification settings or an account) and cleared
/// once the message is queued or the order ends unpaid.
public enum GuestContact: Sendable, Hashable {
    case sms(MSISDN)
    case email(String)

    /// Why a typed contact cannot be used.
    public enum Refusal: Error, Sendable, Equatable {
        case invalid
    }

    /// `text` as a contact: nil when empty (no message wanted); an address when it has an `@`, else a number.
    public static func parse(_ text: String) throws(Refusal) -> GuestContact? {
        let typed = text.trimmingCharacters(in: .whitespaces)
        if typed.isEmpty { return nil }
        if typed.contains("@") {
            do { try NotificationPreferences.validate(email: typed) } catch { throw .invalid }
            return .email(typed)
        }
        guard let number = try? MSISDN(typed) else { throw .invalid }
        return .sms(number)
    }

    public var channel: NotificationChannel {
        switch self {
        case .sms: .sms
        case .email: .email
        }
    }

    public var recipient: String {
        switch self {
        case .sms(let number): number.e164
        case .email(let address): address
        }
    }

    /// The contact as stored (`channel`, `recipient`), read back.
    public init?(channel: String, recipient: String) {
        switch NotificationChannel(rawValue: channel) {
        case .sms?: guard let number = try? MSISDN(recipient) else { return nil }; self = .sms(number)
        case .email?: self = .email(recipient)
        case .dev?, nil: return nil
        }
    }
}

/// Who pays for an order: the line's subscriber (the API, the signed-in portal), or a guest on the public quick
/// recharge page, whose contact (if any) receives the order's success message and nothing else.
public enum OrderPayer: Sendable, Hashable {
    case subscriber
    case guest(contact: GuestContact?, language: NotificationLanguage)

    /// What the order's idempotency fingerprint adds for this payer: nothing for a subscriber (so fingerprints of
    /// orders made before guests existed stay the same), the contact for a guest (a replay must send to the same one).
    public var fingerprintPart: String {
        switch self {
        case .subscriber: ""
        case .guest(let contact, let language): "|guest|\(contact?.channel.rawValue ?? "")|\(contact?.recipient ?? "")|\(language.rawValue)"
        }
    }
}

/// Whether a guest may recharge a line: it exists, takes top-ups (not closed) and the catalog sells something in
/// its currency. A guest is told only yes or no, never which reason: the "cannot recharge this number" page is the
/// same for all, so the page cannot be used to learn a number's state.
public enum GuestRechargeEligibility {
    public static func allows(_ line: Line?, catalog: Catalog) -> Bool {
        guard let line, line.status.acceptsTopUps else { return false }
        if catalog.customTopUp[line.currency] != nil { return true }
        return catalog.products.contains { $0.active && $0.kind != .plan && $0.prices[line.currency] != nil }
    }
}

/// How often the public quick-recharge pages may be used, counted per client address and per number, in fixed
/// aligned windows (like ``SMSCodeBudget``). Without a CAPTCHA, these bound what a stranger's requests cost: each
/// page that looks a number up (choose, review) claims a ``Step/review`` count; each Pay, which writes an order row
/// and asks a payment provider, claims a ``Step/pay`` count, with lower limits. A number's counter keeps one client
/// from spreading over many addresses to probe or flood one number; the client's keeps one address from probing
/// many numbers. The client's counter is claimed first, so a refused client does not even touch a number's row.
public struct GuestRechargeLimits: Sendable, Equatable {
    public enum Step: String, Sendable, CaseIterable {
        /// A page that looks the number up: the amount choice and the review.
        case review
        /// Pay: an order row and a provider's checkout.
        case pay
    }

    public enum Scope: String, Sendable, CaseIterable {
        case client
        case number
    }

    public var reviewPerClient: Int
    public var reviewPerNumber: Int
    public var payPerClient: Int
    public var payPerNumber: Int
    public var window: TimeInterval

    public init(reviewPerClient: Int = 60, reviewPerNumber: Int = 30, payPerClient: Int = 10, payPerNumber: Int = 10, window: TimeInterval = 3600) {
        self.reviewPerClient = reviewPerClient
        self.reviewPerNumber = reviewPerNumber
        self.payPerClient = payPerClient
        self.payPerNumber = payPerNumber
        self.window = max(1, window)
    }

    public func limit(_ step: Step, _ scope: Scope) -> Int {
        switch (step, scope) {
        case (.review, .client): reviewPerClient
        case (.review, .number): reviewPerNumber
        case (.pay, .client): payPerClient
        case (.pay, .number): payPerNumber
        }
    }

    /// One counter to claim: its row key, its limit and the window it counts in.
    public struct Claim: Sendable, Equatable {
        public let scope: Scope
        public let subject: String
        public let limit: Int
        public let windowStart: Date
        /// When the window ends: a refused visitor may try again then (`Retry-After`).
        public let windowEnd: Date
    }

    /// The counters `step` for `number` asked for by `client` claims, in this order: the client's, then the number's.
    public func claims(_ step: Step, client: String, number: MSISDN, now: Date) -> [Claim] {
        let start = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / window).rounded(.down) * window)
        let end = start.addingTimeInterval(window)
        return [
            Claim(scope: .client, subject: "\(step.rawValue)|client|\(client)", limit: limit(step, .client), windowStart: start, windowEnd: end),
            Claim(scope: .number, subject: "\(step.rawValue)|number|\(number.e164)", limit: limit(step, .number), windowStart: start, windowEnd: end),
        ]
    }

    /// Whether a claim that brought its counter to `used` (this request included) may go on.
    public static func allows(_ claim: Claim, used: Int) -> Bool { used <= claim.limit }
}

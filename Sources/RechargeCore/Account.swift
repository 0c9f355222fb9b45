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
    /// A texting budget of ``SMSCodeBudget`` is spent for this window. The portal answers as if the code was
    /// sent (no oracle) and raises an alert metric.
    case codeBudgetSpent(SMSCodeBudget.Scope)
    /// A line's SMS notices were to go to a number that is neither one of the account's lines nor its verified
    /// notification phone (``SMSNoticeDestination``).
    case smsNumberNotVerified(String)

    /// A stable code for logs and problem documents.
    public var code: String {
        switch self {
        case .codeInvalid: return "code_invalid"
        case .tooManyCodes: return "too_many_codes"
        case .lineTaken: return "line_taken"
        case .lineNotOnAccount: return "line_not_on_account"
        case .accountNotFound: return "account_not_found"
        case .codeBudgetSpent(let scope): return "code_budget_spent_\(scope.rawValue)"
        case .smsNumberNotVerified: return "sms_number_not_verified"
        }
    }
}

/// Growing delays after failed logins: below `threshold` consecutive failures no lock; at `threshold` a
/// `firstLock`, doubling with each further failure, capped at `maximumLock`.
///
/// The portal keeps three counts (``LoginLockout``): one per (number, client address), which a stranger fills
/// without touching the owner's; one for the number across every client, much higher, which bounds guessing
/// spread over many addresses and which the owner clears with a code sent by SMS (the password reset); and one for
/// the client address across every number, which bounds what one address can make the server hash by trying a
/// fresh valid number each time.
public struct LoginLockoutPolicy: Sendable, Equatable {
    public var threshold: Int
    public var firstLock: TimeInterval
    public var maximumLock: TimeInterval

    public init(threshold: Int, firstLock: TimeInterval, maximumLock: TimeInterval) {
        self.threshold = max(1, threshold)
        self.firstLock = firstLock
        self.maximumLock = maximumLock
    }

    /// One client guessing one number: 5 failures, then 60 s doubling to an hour.
    public static let perClient = LoginLockoutPolicy(threshold: 5, firstLock: 60, maximumLock: 3600)
    /// Every client together guessing one number: 50 failures (ten clients' worth), then 15 min doubling to a day.
    public static let perNumber = LoginLockoutPolicy(threshold: 50, firstLock: 900, maximumLock: 86_400)
    /// One client address trying any numbers: 100 failures (a shared NAT's worth of typos; each success gives one
    /// back), then 5 min doubling to an hour.
    public static let perAddress = LoginLockoutPolicy(threshold: 100, firstLock: 300, maximumLock: 3600)

    /// How long to lock after `afterFailures` consecutive failures; nil: no lock.
    public func lock(afterFailures failures: Int) -> TimeInterval? {
        guard failures >= threshold else { return nil }
        // Doubling 20 times is past any sensible cap (60 s · 2^20 is two years), so the exponent stops there.
        let doublings = min(failures - threshold, 20)
        return min(firstLock * Double(1 << doublings), maximumLock)
    }
}

/// Both login counts of a number; see ``LoginLockoutPolicy``.
public struct LoginLockout: Sendable, Equatable {
    public var perClient: LoginLockoutPolicy
    public var perNumber: LoginLockoutPolicy
    public var perAddress: LoginLockoutPolicy

    public init(perClient: LoginLockoutPolicy = .perClient, perNumber: LoginLockoutPolicy = .perNumber,
                perAddress: LoginLockoutPolicy = .perAddress) {
        self.perClient = perClient
        self.perNumber = perNumber
        self.perAddress = perAddress
    }

    /// The key standing for "every client" (of a number's count) and "every number" (of an address's count): a
    /// client key is an address and a number is E.164, never `*`.
    public static let everyClient = "*"
    public static let everyNumber = "*"
}

/// Which number receives a line's SMS notices (the success SMS of a top-up, a pack added or renewed, reminders),
/// chosen by the subscriber per line in the portal's settings.
///
/// Only numbers the account has proven it holds: the line itself (the default), another line on the same account
/// (each added with a code texted to it), or the account's notification phone (set only by entering a code texted
/// to it, through the portal's usual code path and its budgets). Never an arbitrary number typed in: the portal
/// would then text strangers on the subscriber's behalf, with balances in the text.
public enum SMSNoticeDestination {
    /// What to store for `line` when the subscriber picks `target`: nil for the line itself, else `target`.
    public static func resolve(_ target: MSISDN, line: MSISDN, accountLines: [MSISDN], verifiedPhone: MSISDN?) throws(AccountError) -> MSISDN? {
        guard accountLines.contains(line) else { throw .lineNotOnAccount(line.e164) }
        if target == line { return nil }
        guard accountLines.contains(target) || target == verifiedPhone else { throw .smsNumberNotVerified(target.e164) }
        return target
    }

    /// The numbers offered for `line`, the line itself first, each once.
    public static func choices(line: MSISDN, accountLines: [MSISDN], verifiedPhone: MSISDN?) -> [MSISDN] {
        var choices = [line]
        for number in accountLines + (verifiedPhone.map { [$0] } ?? []) where !choices.contains(number) { choices.append(number) }
        return choices
    }
}

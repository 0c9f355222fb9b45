import Foundation

/// How many one-time codes the portal may text per hour, counted three ways, so that texting codes cannot be
/// turned into a money pump (SMS "pumping": an attacker has codes sent to numbers whose termination fees they
/// share, and the operator pays for every message).
///
/// - per client address: one address (an IPv6 /64) cannot text more than a person ever needs;
/// - per destination prefix (``SMSDestinationRule/prefix(of:)``): one range cannot be drained from many addresses;
/// - globally: a hard ceiling on what an hour of codes can cost, whatever the spread.
///
/// The windows are fixed and aligned (`floor(now / window)`): a counter is one row per subject, claimed with one
/// `INSERT … ON CONFLICT DO UPDATE … RETURNING`, so concurrent requests each get their own count. A code is only
/// counted when it is queued: the claim and the code go in one transaction.
public struct SMSCodeBudget: Sendable, Equatable {
    public enum Scope: String, Sendable, CaseIterable {
        case client
        case prefix
        case global
    }

    public var perClient: Int
    public var perPrefix: Int
    public var global: Int
    public var window: TimeInterval

    public init(perClient: Int = 10, perPrefix: Int = 300, global: Int = 1000, window: TimeInterval = 3600) {
        self.perClient = perClient
        self.perPrefix = perPrefix
        self.global = global
        self.window = max(1, window)
    }

    public func limit(_ scope: Scope) -> Int {
        switch scope {
        case .client: return perClient
        case .prefix: return perPrefix
        case .global: return global
        }
    }

    /// One counter to claim: its row key, its limit and the window it counts in.
    public struct Claim: Sendable, Equatable {
        public let scope: Scope
        public let subject: String
        public let limit: Int
        public let windowStart: Date
    }

    /// The counters a code to a number in `prefix` asked for by `client` claims, always in this order (client,
    /// prefix, global), so two transactions lock them in the same order.
    public func claims(client: String, prefix: String, now: Date) -> [Claim] {
        let start = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / window).rounded(.down) * window)
        return [
            Claim(scope: .client, subject: "client|" + client, limit: perClient, windowStart: start),
            Claim(scope: .prefix, subject: "prefix|" + prefix, limit: perPrefix, windowStart: start),
            Claim(scope: .global, subject: "global", limit: global, windowStart: start),
        ]
    }

    /// Whether a claim that brought its counter to `used` (this code included) may be sent.
    public static func allows(_ claim: Claim, used: Int) -> Bool { used <= claim.limit }
}

/// Which numbers an anonymous visitor may have a code texted to: lines this operator serves. A number is served
/// when it is a line in the database, or falls in a configured prefix (`RECHARGE_PORTAL_SMS_PREFIXES`) — or, when
/// none is configured, in the default range of some line: its country code, or for North America (+1, which
/// spans 25 countries, including the Caribbean ranges pumping favours) its country code and area code.
public struct SMSDestinationRule: Sendable, Equatable {
    /// Configured prefixes (`+` and digits); nil: the default ranges of the lines in the database.
    public let prefixes: [String]?

    public init(prefixes: [String]? = nil) {
        self.prefixes = prefixes
    }

    /// Parses `+44, +1415` (commas or spaces; each `+` and 1 to 14 digits).
    public init(parsing text: String) throws(RechargeError) {
        let parts = text.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
        for part in parts {
            guard part.first == "+", (2...15).contains(part.count), part.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw .invalidMSISDN(part, reason: "a prefix is + and 1 to 14 digits")
            }
        }
        self.prefixes = parts
    }

    /// The configured prefix that covers `number` (the longest), or nil when none does or none is configured.
    public func configuredPrefix(of number: MSISDN) -> String? {
        prefixes?.filter { number.e164.hasPrefix($0) }.max { $0.count < $1.count }
    }

    /// The prefix a number's codes are counted under: the configured prefix covering it, else its default range.
    public func prefix(of number: MSISDN) -> String {
        configuredPrefix(of: number) ?? Self.defaultRange(of: number)
    }

    /// `+44` for `+447700900123`, `+1415` for `+14155550100`: the country calling code (ITU-T E.164 codes are
    /// prefix-free: 1 and 7 have one digit, the list below two, every other three), with the area code in North
    /// America.
    public static func defaultRange(of number: MSISDN) -> String {
        let digits = number.e164.dropFirst()
        let length: Int
        switch digits.first {
        case "1": return "+" + String(digits.prefix(4))
        case "7": length = 1
        default: length = twoDigitCodes.contains(String(digits.prefix(2))) ? 2 : 3
        }
        return "+" + String(digits.prefix(length))
    }

    static let twoDigitCodes: Set<String> = [
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48", "49",
        "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81", "82", "84", "86",
        "90", "91", "92", "93", "94", "95", "98",
    ]
}

import Foundation
import RechargeCore
import RechargeMessaging

/// What a voice (IVR) or USSD channel tells a caller about a card redemption: short plain texts, to be read out by
/// text-to-speech or shown on one USSD screen. Every text, with any values filled in, fits one screen: 160 GSM 7-bit
/// characters, or 70 UCS-2 characters when it needs Chinese (``VoucherChannelCatalog/fitsOneScreen(_:)``; a test
/// renders every message in both languages with the longest values they can take).
///
/// The answers keep the portal's and the API's rule: a PIN that matches no card and a card number that is not the
/// PIN's card are one message (``wrongCard``), so a caller learns nothing about which half was right.
public enum VoucherChannelMessage: Sendable, Equatable {
    /// Money credited, and the main balance after it.
    case redeemed(credited: Money, balance: Money)
    /// A pack card: the pack's name (shortened to fit if need be), and the main balance.
    case redeemedPack(pack: String, balance: Money)
    /// Not digits, wrong length, a wrong check digit: a typing mistake, not counted as a failure.
    case mistyped
    /// A wrong PIN, or a PIN with another card's number.
    case wrongCard
    /// This line or caller failed too often: whole minutes until it may try again (at least 1).
    case lockedOut(minutes: Int)
    /// Guessing spiked on the channel: whole minutes until it reopens.
    case paused(minutes: Int)
    case alreadyUsed
    case expired
    /// Not activated yet, suspended or blocked: the shop that sold it can tell.
    case notActive
    case currencyMismatch
    /// Anything else (vouchers not configured, the database down): try again later.
    case unavailable

    /// The message for a refusal of ``VoucherError``; `now` turns a lockout's end into minutes to wait.
    public init(refusal: VoucherError, now: Date) {
        switch refusal {
        case .malformedPIN, .malformedSerial: self = .mistyped
        case .invalidPIN: self = .wrongCard
        case .alreadyRedeemed: self = .alreadyUsed
        case .expired: self = .expired
        case .notActive, .blocked: self = .notActive
        case .currencyMismatch: self = .currencyMismatch
        case .lockedOut(_, let until): self = .lockedOut(minutes: Self.minutes(until: until, now: now))
        case .channelPaused(_, let until): self = .paused(minutes: Self.minutes(until: until, now: now))
        case .invalidBatch, .batchNotFound, .illegalBatchTransition, .serialsOutsideBatch, .alreadyExported, .approvalNotFound,
             .approvalBySameAdmin, .approvalNotPending:
            // Operator-side refusals never answer a redemption; should one reach a caller, it is "try later".
            self = .unavailable
        }
    }

    /// Whole minutes, rounded up, at least one: "try again in 0 min" would invite an immediate refusal.
    static func minutes(until: Date, now: Date) -> Int {
        max(1, Int((until.timeIntervalSince(now) / 60).rounded(.up)))
    }

    /// The catalog key of the message's text.
    public var key: String {
        switch self {
        case .redeemed: "voucher_redeemed"
        case .redeemedPack: "voucher_redeemed_pack"
        case .mistyped: "voucher_mistyped"
        case .wrongCard: "voucher_wrong_card"
        case .lockedOut: "voucher_locked"
        case .paused: "voucher_paused"
        case .alreadyUsed: "voucher_used"
        case .expired: "voucher_expired"
        case .notActive: "voucher_not_active"
        case .currencyMismatch: "voucher_currency"
        case .unavailable: "voucher_unavailable"
        }
    }

    /// Every key, for the catalog's completeness check.
    public static let keys = ["voucher_redeemed", "voucher_redeemed_pack", "voucher_mistyped", "voucher_wrong_card", "voucher_locked",
                              "voucher_paused", "voucher_used", "voucher_expired", "voucher_not_active", "voucher_currency",
                              "voucher_unavailable"]
}

/// The texts of ``VoucherChannelMessage`` per language, from `Resources/channel/<language>.json` (flat `key → text`
/// with `{name}` placeholders), loaded once. Amounts are written as the SMS notices write them (``NotificationFormat``).
public struct VoucherChannelCatalog: Sendable {
    public let tables: [NotificationLanguage: [String: String]]

    public enum LoadError: Error, Equatable, CustomStringConvertible {
        case missingResource
        /// A language's file lacks a key (or has one no message uses): the channel would read out a key.
        case keys(language: String, missing: [String], unknown: [String])

        public var description: String {
            switch self {
            case .missingResource: "the channel message resources are missing from the bundle"
            case .keys(let language, let missing, let unknown): "channel messages \(language): missing \(missing), unknown \(unknown)"
            }
        }
    }

    /// Loads every language and refuses a table whose keys differ from ``VoucherChannelMessage/keys``.
    public init(tables: [NotificationLanguage: [String: String]]) throws(LoadError) {
        for language in NotificationLanguage.allCases {
            let keys = Set(tables[language]?.keys.map { $0 } ?? [])
            let expected = Set(VoucherChannelMessage.keys)
            guard keys == expected else {
                throw .keys(language: language.rawValue, missing: expected.subtracting(keys).sorted(), unknown: keys.subtracting(expected).sorted())
            }
        }
        self.tables = tables
    }

    public static func bundled() throws -> VoucherChannelCatalog {
        guard let directory = Bundle.module.url(forResource: "channel", withExtension: nil) else { throw LoadError.missingResource }
        var tables: [NotificationLanguage: [String: String]] = [:]
        for language in NotificationLanguage.allCases {
            let data = try Data(contentsOf: directory.appendingPathComponent("\(language.rawValue).json"))
            tables[language] = try JSONDecoder().decode([String: String].self, from: data)
        }
        return try VoucherChannelCatalog(tables: tables)
    }

    /// The text to read out or show. A pack's name is the only value of unbounded length: it is shortened (with
    /// "...") until the text fits one screen.
    public func text(_ message: VoucherChannelMessage, language: NotificationLanguage) -> String {
        let template = tables[language]?[message.key] ?? ""
        switch message {
        case .redeemed(let credited, let balance):
            return Self.fill(template, ["amount": NotificationFormat.money(credited, language: language),
                                        "balance": NotificationFormat.money(balance, language: language)])
        case .redeemedPack(let pack, let balance):
            let balanceText = NotificationFormat.money(balance, language: language)
            var name = pack
            var text = Self.fill(template, ["pack": name, "balance": balanceText])
            while !Self.fitsOneScreen(text) && !name.isEmpty {
                name = String(name.dropLast())
                text = Self.fill(template, ["pack": name.isEmpty ? "" : name + "...", "balance": balanceText])
            }
            return text
        case .lockedOut(let minutes), .paused(let minutes):
            return Self.fill(template, ["minutes": String(minutes)])
        case .mistyped, .wrongCard, .alreadyUsed, .expired, .notActive, .currencyMismatch, .unavailable:
            return template
        }
    }

    /// One USSD screen or one SMS: 160 GSM 7-bit septets, or 70 UCS-2 units if any character needs UCS-2.
    public static func fitsOneScreen(_ text: String) -> Bool {
        SMSText.partCount(for: text) == 1
    }

    /// One pass over the template, so a value that happens to contain `{name}` is never filled in again.
    static func fill(_ template: String, _ values: [String: String]) -> String {
        var result = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            result += rest[..<open]
            let name = String(rest[rest.index(after: open)..<close])
            if let value = values[name] { result += value } else { result += rest[open...close] }
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }
}

import Foundation

/// The life of one scratch card: `inactive` when generated (printed and in a box), `active` once the shop
/// that sells it has activated its serial range, then `redeemed` exactly once. A card can be `suspended` (and
/// activated again) or `blocked` (lost or stolen; for good). An unused card is void after its batch's expiry date.
public enum VoucherState: String, Sendable, Codable, CaseIterable {
    case inactive
    case active
    case suspended
    case redeemed
    case blocked
    case expired
}

/// What an operator or a customer does to a card.
public enum VoucherAction: String, Sendable, CaseIterable {
    case activate
    case suspend
    case block
    case redeem
    case expire

    /// The states a card must be in for `self` to change it, and the state it goes to. Everything else is
    /// left as it is: activating a range skips the cards already redeemed or blocked in it.
    public var transition: (from: Set<VoucherState>, to: VoucherState) {
        switch self {
        case .activate: ([.inactive, .suspended], .active)
        case .suspend: ([.active], .suspended)
        case .block: ([.inactive, .active, .suspended], .blocked)
        case .redeem: ([.active], .redeemed)
        case .expire: ([.inactive, .active, .suspended], .expired)
        }
    }
}

extension VoucherState {
    /// The state after `action`, or nil if `action` does not apply to a card in this state.
    public func applying(_ action: VoucherAction) -> VoucherState? {
        let transition = action.transition
        return transition.from.contains(self) ? transition.to : nil
    }

    /// Why a card in this state cannot be redeemed (nil for `active`): the specific answer given only to a PIN
    /// that matched the card.
    public func redemptionRefusal(redeemedAt: Date?, maskedMSISDN: String?, expiresAt: Date) -> VoucherError? {
        switch self {
        case .active: nil
        case .inactive, .suspended: .notActive
        case .redeemed: .alreadyRedeemed(at: redeemedAt ?? expiresAt, maskedMSISDN: maskedMSISDN ?? "another number")
        case .blocked: .blocked
        case .expired: .expired(at: expiresAt)
        }
    }
}

/// An inclusive range of printed serial numbers, as typed on the command line: `1000000-1000099` or a single `1000042`.
/// The card number printed openly on a scratch card (its serial), as a person types it from the card: digits,
/// with spaces and dashes anywhere ignored (cards print it in groups, `1000 0000 42` or `1000-0000-42`).
public enum VoucherSerial {
    /// Serials are positive and fit in a `BIGINT`: at most 18 digits (leading zeros aside).
    public static let maxDigits = 18

    /// The serial `text` spells; ``VoucherError/malformedSerial(_:)`` for anything but digits, spaces and dashes,
    /// for no digits at all, for more than ``maxDigits`` significant digits, or for zero.
    public static func parse(typed text: String) throws(VoucherError) -> Int64 {
        var value: Int64 = 0
        var digits = 0
        var significant = 0
        for byte in text.utf8 {
            switch byte {
            case 0x30...0x39:
                digits += 1
                if value == 0 && byte == 0x30 { continue }
                significant += 1
                guard significant <= maxDigits else { throw .malformedSerial("a card number has at most \(maxDigits) digits") }
                value = value * 10 + Int64(byte - 0x30)
            case 0x20, 0x2D: continue
            default: throw .malformedSerial("a card number has only digits")
            }
        }
        guard digits > 0 else { throw .malformedSerial("the card number is empty") }
        guard value > 0 else { throw .malformedSerial("no card has number 0") }
        return value
    }
}

public struct VoucherSerialRange: Hashable, Sendable, CustomStringConvertible {
    public let first: Int64
    public let last: Int64

    public init(first: Int64, last: Int64) throws(VoucherError) {
        guard first > 0, first <= last else { throw .invalidBatch("serial range \(first)-\(last) is empty or not positive") }
        self.first = first
        self.last = last
    }

    public init(parsing text: String) throws(VoucherError) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard (1...2).contains(parts.count), let first = Int64(parts[0]), let last = Int64(parts.last ?? "") else {
            throw .invalidBatch("'\(text)' is not a serial or a range of serials such as 1000000-1000099")
        }
        try self.init(first: first, last: last)
    }

    public var count: Int64 { last - first + 1 }

    public func contains(_ other: VoucherSerialRange) -> Bool { other.first >= first && other.last <= last }

    public var description: String { first == last ? "\(first)" : "\(first)-\(last)" }
}

/// What a card is worth: money credited to the main balance, or a pack from the catalog granted like a
/// paid order of that pack.
public enum VoucherDenomination: Hashable, Sendable, CustomStringConvertible {
    case money(Money)
    case pack(code: String, price: Money)

    /// What the card was sold for: the liability the operator carries until it is redeemed.
    public var faceValue: Money {
        switch self {
        case .money(let money): money
        case .pack(_, let price): price
        }
    }

    public var description: String {
        switch self {
        case .money(let money): money.description
        case .pack(let code, let price): "pack \(code) (\(price))"
        }
    }
}

/// The number shown back to a customer about someone else's redemption: enough to recognise one's own
/// (country code and last two digits), not enough to learn another's.
public func maskedMSISDN(_ e164: String) -> String {
    let digits = Array(e164)
    guard digits.count > 5 else { return String(repeating: "•", count: digits.count) }
    let head = digits.prefix(e164.hasPrefix("+1") ? 2 : 3)
    let tail = digits.suffix(2)
    return String(head) + String(repeating: "•", count: digits.count - head.count - tail.count) + String(tail)
}

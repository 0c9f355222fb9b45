import Foundation

/// Every way a voucher request can be refused. Like ``RechargeError`` each case has a stable ``code`` (the
/// problem type in the API), a ``title`` and a ``detail``. Redemption answers are chosen so that they help an
/// honest customer without helping someone guessing: a PIN that matches no voucher is only ever "invalid"; the
/// specific reasons (used, expired, not active, blocked) are given only for a PIN that matched one.
public enum VoucherError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not digits, wrong length or wrong check digit: a typing mistake, told before any lookup.
    case malformedPIN(String)
    /// The card number (the serial printed openly on the card) is not digits: a typing mistake, told before any
    /// lookup and not counted as a failure. A well-formed serial that is not the PIN's card is ``invalidPIN``.
    case malformedSerial(String)
    /// The PIN matches no voucher, or not the serial given with it: one answer for both halves of a wrong pair, so a
    /// guesser learns nothing about which half was right.
    case invalidPIN
    case alreadyRedeemed(at: Date, maskedMSISDN: String)
    case expired(at: Date)
    case notActive
    case blocked
    /// Too many failed attempts by this line or client: try again after the lockout.
    case lockedOut(subject: String, until: Date)
    /// Guessing on this channel spiked: redemption through it is paused for everyone for a while.
    case channelPaused(channel: String, until: Date)
    /// The voucher's currency differs from the line's.
    case currencyMismatch(voucher: String, line: String)

    // Operator side.
    case invalidBatch(String)
    case batchNotFound(Int64)
    case illegalBatchTransition(batch: Int64, from: VoucherBatchState, action: String)
    case serialsOutsideBatch(batch: Int64, requested: String, batchRange: String)
    case alreadyExported(batch: Int64, at: Date, by: String)
    case approvalNotFound(Int64)
    case approvalBySameAdmin(approval: Int64, admin: String)
    case approvalNotPending(Int64)

    public var code: String {
        switch self {
        case .malformedPIN: "malformed-voucher-pin"
        case .malformedSerial: "malformed-voucher-serial"
        case .invalidPIN: "invalid-voucher-pin"
        case .alreadyRedeemed: "voucher-already-redeemed"
        case .expired: "voucher-expired"
        case .notActive: "voucher-not-active"
        case .blocked: "voucher-blocked"
        case .lockedOut: "voucher-redemption-locked"
        case .channelPaused: "voucher-redemption-paused"
        case .currencyMismatch: "voucher-currency-mismatch"
        case .invalidBatch: "invalid-voucher-batch"
        case .batchNotFound: "voucher-batch-not-found"
        case .illegalBatchTransition: "illegal-voucher-batch-transition"
        case .serialsOutsideBatch: "voucher-serials-outside-batch"
        case .alreadyExported: "voucher-batch-already-exported"
        case .approvalNotFound: "voucher-approval-not-found"
        case .approvalBySameAdmin: "voucher-approval-by-same-admin"
        case .approvalNotPending: "voucher-approval-not-pending"
        }
    }

    public var title: String {
        switch self {
        case .malformedPIN: "PIN not well formed"
        case .malformedSerial: "Card number not well formed"
        case .invalidPIN: "Invalid PIN"
        case .alreadyRedeemed: "Voucher already used"
        case .expired: "Voucher expired"
        case .notActive: "Voucher not activated yet"
        case .blocked: "Voucher blocked"
        case .lockedOut: "Too many failed attempts"
        case .channelPaused: "Voucher redemption paused"
        case .currencyMismatch: "Voucher currency does not match the line"
        case .invalidBatch: "Invalid voucher batch"
        case .batchNotFound: "Voucher batch not found"
        case .illegalBatchTransition: "Voucher batch state change not allowed"
        case .serialsOutsideBatch: "Serials outside the batch"
        case .alreadyExported: "Voucher batch already exported"
        case .approvalNotFound: "Approval not found"
        case .approvalBySameAdmin: "A second admin must approve"
        case .approvalNotPending: "Approval already decided"
        }
    }

    public var detail: String {
        switch self {
        case .malformedPIN(let reason): "The PIN is not valid: \(reason)."
        case .malformedSerial(let reason): "The card number is not valid: \(reason)."
        case .invalidPIN: "The PIN is not valid. Check the digits under the scratch panel and try again."
        case .alreadyRedeemed(let at, let masked): "This voucher was already used on \(Self.iso(at)) for \(masked)."
        case .expired(let at): "This voucher expired on \(Self.iso(at))."
        case .notActive: "This voucher has not been activated yet; ask the shop that sold it."
        case .blocked: "This voucher is blocked; ask the shop that sold it or customer service."
        case .lockedOut(_, let until): "Too many failed attempts; voucher redemption is locked until \(Self.iso(until))."
        case .channelPaused(let channel, let until): "Voucher redemption through \(channel) is paused until \(Self.iso(until)); please try again later."
        case .currencyMismatch(let voucher, let line): "The voucher is worth \(voucher); the line is in \(line)."
        case .invalidBatch(let reason): "The voucher batch is invalid: \(reason)."
        case .batchNotFound(let id): "No voucher batch \(id)."
        case .illegalBatchTransition(let batch, let from, let action): "Voucher batch \(batch) is \(from.rawValue) and cannot be \(action)."
        case .serialsOutsideBatch(let batch, let requested, let range): "Serials \(requested) are not all in batch \(batch) (\(range))."
        case .alreadyExported(let batch, let at, let by): "Voucher batch \(batch) was exported on \(Self.iso(at)) by \(by); PINs are exported once and no longer kept."
        case .approvalNotFound(let id): "No voucher approval \(id)."
        case .approvalBySameAdmin(let id, let admin): "Approval \(id) was requested by \(admin); another admin must approve it."
        case .approvalNotPending(let id): "Approval \(id) has already been decided."
        }
    }

    /// The detail alone: what the CLI prints after `error:` (the code is in ``code``).
    public var description: String { detail }

    static func iso(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: false))
    }
}

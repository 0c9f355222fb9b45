import Foundation

/// The life of a batch of cards, decided here and only recorded by the store:
///
/// ```
/// generating → generated → exported → in_stock → active ⇄ suspended
///                                  any but generating → blocked;  past its expiry date → expired
/// ```
///
/// `exported` means the card printer has the PINs (they are no longer kept anywhere); `in_stock` that the printed
/// cards arrived in the warehouse. Range actions (activate, suspend, block a box) change cards, and the batch
/// state records the last batch-wide step so that cards can only be activated once they are printed and stocked.
public enum VoucherBatchState: String, Sendable, Codable, CaseIterable {
    /// Vouchers are being written; an interrupted creation stays here with no usable card.
    case generating
    case generated
    case exported
    case inStock = "in_stock"
    case active
    case suspended
    case blocked
    case expired
}

/// A batch-wide step.
public enum VoucherBatchEvent: String, Sendable, CaseIterable {
    case finishGeneration = "finish generation"
    case export = "exported"
    case receive = "received into stock"
    case activate = "activated"
    case suspend = "suspended"
    case block = "blocked"
}

extension VoucherBatchState {
    /// The state after `event`, or the typed refusal. Activation and suspension may cover part of the batch,
    /// and may be repeated for the next box.
    public func applying(_ event: VoucherBatchEvent, batch: Int64) throws(VoucherError) -> VoucherBatchState {
        switch (self, event) {
        case (.generating, .finishGeneration): return .generated
        case (.generated, .export): return .exported
        case (.exported, .receive): return .inStock
        case (.inStock, .activate), (.active, .activate), (.suspended, .activate): return .active
        case (.active, .suspend), (.suspended, .suspend): return .suspended
        case (.generated, .block), (.exported, .block), (.inStock, .block), (.active, .block), (.suspended, .block), (.blocked, .block):
            return .blocked
        default:
            throw .illegalBatchTransition(batch: batch, from: self, action: event.rawValue)
        }
    }
}

/// A batch of scratch cards as created by an operator.
public struct VoucherBatch: Sendable, Equatable {
    public let id: Int64
    public let denomination: VoucherDenomination
    public let serials: VoucherSerialRange
    /// After this instant an unused card is void.
    public let expiresAt: Date
    public let pinLength: Int
    public let createdBy: String
    public let createdAt: Date
    public var state: VoucherBatchState
    public var exportedAt: Date?
    public var exportedBy: String?

    public init(id: Int64, denomination: VoucherDenomination, serials: VoucherSerialRange, expiresAt: Date, pinLength: Int,
                createdBy: String, createdAt: Date, state: VoucherBatchState, exportedAt: Date?, exportedBy: String?) {
        self.id = id
        self.denomination = denomination
        self.serials = serials
        self.expiresAt = expiresAt
        self.pinLength = pinLength
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.state = state
        self.exportedAt = exportedAt
        self.exportedBy = exportedBy
    }

    public var count: Int64 { serials.count }

    /// The state an operator sees: a batch past its expiry date is expired whatever step it reached.
    public func effectiveState(at now: Date) -> VoucherBatchState {
        state != .blocked && now >= expiresAt ? .expired : state
    }

    /// Face value of `count` cards of this batch, or nil on overflow.
    public func value(of count: Int64) -> Money? {
        let face = denomination.faceValue
        let (total, overflow) = face.micros.multipliedReportingOverflow(by: count)
        return overflow ? nil : Money(micros: total, currency: face.currency)
    }
}

/// What an operator asks for when creating a batch; validated here.
public struct VoucherBatchRequest: Sendable, Equatable {
    public static let maximumCount: Int64 = 10_000_000

    public let denomination: VoucherDenomination
    public let count: Int64
    public let expiresAt: Date
    public let pinLength: Int
    public let createdBy: String

    public init(denomination: VoucherDenomination, count: Int64, expiresAt: Date, pinLength: Int = VoucherPIN.defaultLength,
                createdBy: String, now: Date) throws(VoucherError) {
        guard (1...Self.maximumCount).contains(count) else { throw .invalidBatch("count must be 1 to \(Self.maximumCount), not \(count)") }
        guard denomination.faceValue.isPositive else { throw .invalidBatch("the face value must be positive") }
        guard expiresAt > now else { throw .invalidBatch("the expiry date must be in the future") }
        guard VoucherPIN.allowedLengths.contains(pinLength) else {
            throw .invalidBatch("PIN length must be \(VoucherPIN.allowedLengths.lowerBound) to \(VoucherPIN.allowedLengths.upperBound) digits")
        }
        let actor = createdBy.trimmingCharacters(in: .whitespaces)
        guard !actor.isEmpty else { throw .invalidBatch("say who creates the batch") }
        let (_, overflow) = denomination.faceValue.micros.multipliedReportingOverflow(by: count)
        guard !overflow else { throw .invalidBatch("the batch's total value is too large") }
        self.denomination = denomination
        self.count = count
        self.expiresAt = expiresAt
        self.pinLength = pinLength
        self.createdBy = actor
    }
}

/// Activating cards puts money in circulation: above ``threshold`` (per batch or range activated at once)
/// a second admin must approve before anything changes.
public struct VoucherApprovalPolicy: Sendable, Equatable {
    public let threshold: Money

    public init(threshold: Money) { self.threshold = threshold }

    public static let defaultThreshold = Money(micros: 10_000 * Money.microsPerUnit, currency: .usd)

    /// Whether activating cards worth `value` needs a second admin. A value in another currency than the
    /// threshold's always does (there is no exchange rate to compare with here).
    public func needsSecondApproval(_ value: Money) -> Bool {
        value.currency != threshold.currency || value.micros > threshold.micros
    }

    /// Whether `approver` counts as the same admin as `requester`, who may not approve their own request: the same
    /// API key, the same operating-system user, or the same name (case-insensitive). A name is only what someone
    /// typed after `--by`, so it alone never proves two people: the key and the OS user are what the server and the
    /// system vouch for.
    public func isSameAdmin(_ requester: VoucherOperator, _ approver: VoucherOperator) -> Bool {
        if let key = requester.apiKeyID, key == approver.apiKeyID { return true }
        if let user = requester.osUser, user == approver.osUser { return true }
        return requester.name.caseInsensitiveCompare(approver.name) == .orderedSame
    }
}

/// Who does something to a voucher batch, for the audit log and dual approval: the name they give (`--by`, or an
/// API key's name), and what vouches for it: the API key (through the API) or the operating-system user (the CLI).
public struct VoucherOperator: Sendable, Equatable {
    public let name: String
    /// The OS user the CLI runs as (from the process's user id, not `$USER`).
    public let osUser: String?
    /// The API key that authenticated the request.
    public let apiKeyID: Int64?

    public init(name: String, osUser: String? = nil, apiKeyID: Int64? = nil) {
        self.name = name
        self.osUser = osUser
        self.apiKeyID = apiKeyID
    }

    /// As the audit log shows it.
    public var description: String {
        if let apiKeyID { return "\(name) (API key \(apiKeyID))" }
        if let osUser, osUser != name { return "\(name) (OS user \(osUser))" }
        return name
    }
}

import Foundation

/// How a line pays: prepaid lines spend a balance recharged in advance; postpaid lines are billed monthly.
public enum LineType: String, Sendable, Codable, CaseIterable {
    case prepaid
    case postpaid
}

/// The lifecycle of a line. Suspension is reversible; termination is final.
///
/// Allowed changes: active → suspended, suspended → active, active/suspended → terminated.
public enum LineStatus: String, Sendable, Codable, CaseIterable {
    case active
    case suspended
    case terminated

    /// The status after asking for `target`, or the typed error naming the illegal change.
    /// Asking for the status a line already has is allowed and changes nothing.
    public func transition(to target: LineStatus, msisdn: MSISDN) throws(RechargeError) -> LineStatus {
        switch (self, target) {
        case (.active, .active), (.suspended, .suspended), (.terminated, .terminated),
             (.active, .suspended), (.suspended, .active),
             (.active, .terminated), (.suspended, .terminated):
            return target
        case (.terminated, .active), (.terminated, .suspended):
            throw .illegalLineTransition(msisdn: msisdn.e164, from: self, to: target)
        }
    }

    /// A suspended line may still be recharged (that is often how it comes back); a terminated one may not.
    public var acceptsTopUps: Bool { self != .terminated }
    /// Only an active line is charged for usage.
    public var acceptsDebits: Bool { self == .active }
}

/// A subscription on one phone number, with its balance currency and the credit its plan allows.
public struct Line: Sendable, Equatable {
    public let id: Int64
    public let msisdn: MSISDN
    public let iccid: ICCID?
    public let type: LineType
    public var status: LineStatus
    public let currency: Currency
    /// How far below zero the main monetary balance may go (0 for a plain prepaid line).
    public let creditLimit: Money
    public let subscriberID: Int64?
    public let createdAt: Date
    /// When the charging engine stopped chargeable service because money ran out (nil: not barred). Emergency and
    /// free numbers stay allowed; the next top-up, voucher, order or bill payment clears it and tells the network.
    /// Apart from ``status``: barring is automatic and undone by money, suspension is an operator's decision.
    public var barredAt: Date?

    public init(
        id: Int64, msisdn: MSISDN, iccid: ICCID?, type: LineType, status: LineStatus,
        currency: Currency, creditLimit: Money, subscriberID: Int64?, createdAt: Date, barredAt: Date? = nil
    ) {
        self.barredAt = barredAt
        self.id = id
        self.msisdn = msisdn
        self.iccid = iccid
        self.type = type
        self.status = status
        self.currency = currency
        self.creditLimit = creditLimit
        self.subscriberID = subscriberID
        self.createdAt = createdAt
    }
}

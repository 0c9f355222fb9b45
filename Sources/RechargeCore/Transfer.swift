import Foundation

/// Where a movement of value came from. Recorded on every transfer; top-ups are booked against a
/// clearing account per channel, so each channel can be reconciled on its own.
public enum Channel: String, Sendable, Codable, CaseIterable {
    case online
    case card
    case paypal
    case alipay
    case wechatPay = "wechat_pay"
    case bankTransfer = "bank_transfer"
    case voucher
    case ivr
    case ussd
    case retail
    case customerService = "customer_service"
    case admin
    case promotion
    /// Usage charged by the network (the online charging system).
    case network
    case system
}

/// Why a transfer was made.
public enum TransferReason: String, Sendable, Codable, CaseIterable {
    /// Money added to a line's main balance.
    case topUp = "top_up"
    /// A new bucket (data, voice, SMS, or money with its own validity) granted to a line.
    case bucketGrant = "bucket_grant"
    /// Usage or a purchase charged to a line.
    case debit
}

/// The role of a ledger account. Subscriber buckets are liabilities of the operator (value it owes as
/// service); clearing accounts hold what channels owe the operator; revenue and allowance accounts
/// receive usage and fund granted allowances.
public enum LedgerAccountKind: String, Sendable, Codable, CaseIterable {
    case subscriberBucket = "subscriber_bucket"
    case clearing
    case revenue
    case allowance
    /// What promotions cost the operator (bonus money granted).
    case expense
    /// Vouchers sold and not yet redeemed: prepaid money the operator owes (see VoucherLedger.swift).
    case voucherLiability = "voucher_liability"
}

/// Names of the operator-side ledger accounts. One account per unit, so a transfer never mixes units.
public enum LedgerAccountCode {
    /// The main (non-expiring) balance of a line in one unit.
    public static func mainBalance(lineID: Int64, unit: String) -> String { "line:\(lineID):main:\(unit)" }
    /// A bucket granted to a line by one operation.
    public static func grantedBucket(lineID: Int64, operationID: Int64) -> String { "line:\(lineID):grant:\(operationID)" }
    public static func clearing(_ channel: Channel, unit: String) -> String { "clearing:\(channel.rawValue):\(unit)" }
    public static func usageRevenue(unit: String) -> String { "revenue:usage:\(unit)" }
    /// What subscribers paid for packs and plans.
    public static func packRevenue(unit: String) -> String { "revenue:packs:\(unit)" }
    public static func promotionExpense(unit: String) -> String { "expense:promotions:\(unit)" }
    public static func allowance(unit: String) -> String { "allowance:\(unit)" }
}

/// One immutable double-entry movement: `amount` of `unit` leaves `debitAccountID` and enters
/// `creditAccountID`. Every change of any balance is made of these; the operation that made it carries the
/// idempotency key, and (`idempotencyKey`, `leg`) is unique.
public struct Transfer: Sendable, Equatable {
    public let id: Int64
    public let operationID: Int64
    public let leg: Int
    public let debitAccountID: Int64
    public let creditAccountID: Int64
    public let amount: Int64
    public let unit: String
    public let reason: TransferReason
    public let channel: Channel
    public let reference: String?
    public let idempotencyKey: String
    public let createdAt: Date

    public init(
        id: Int64, operationID: Int64, leg: Int, debitAccountID: Int64, creditAccountID: Int64, amount: Int64,
        unit: String, reason: TransferReason, channel: Channel, reference: String?, idempotencyKey: String,
        createdAt: Date
    ) {
        self.id = id
        self.operationID = operationID
        self.leg = leg
        self.debitAccountID = debitAccountID
        self.creditAccountID = creditAccountID
        self.amount = amount
        self.unit = unit
        self.reason = reason
        self.channel = channel
        self.reference = reference
        self.idempotencyKey = idempotencyKey
        self.createdAt = createdAt
    }
}

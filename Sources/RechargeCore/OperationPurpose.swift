import Foundation

/// Why a ledger operation exists: stored beside it in typed columns (`purpose`, `order_id`, `refund_id`,
/// `subject_id`, `grant_number` on `operations`, migration 12), so that notifications, refunds and reports ask
/// the row what it is instead of reading its idempotency key.
///
/// An idempotency key is only a key. The keys the server makes for its own operations are built here, from the
/// purpose (``idempotencyKey``), and nowhere else; nothing parses them back (a source test fails if anything
/// outside this file calls `hasPrefix`/`hasSuffix` on a key).
public enum OperationPurpose: Sendable, Hashable {
    /// A client's top-up (API, CLI, demo data): the client chose the key.
    case topUp
    /// A client's debit (usage charged through the API): the client chose the key.
    case debit
    /// A top-up order's money credited to the main balance.
    case orderCredit(orderID: String)
    /// A top-up order's promotional bonus, in a bucket of its own.
    case orderBonus(orderID: String)
    /// The `number`th bucket (from 1) a promotion granted with an order (bonus data, minutes or SMS).
    case orderBonusGrant(orderID: String, number: Int)
    /// A discounted top-up's discount, credited to the main balance from promotion expense (the payer paid the rest).
    case orderDiscount(orderID: String)
    /// A pack order's price paid into the main balance (spent again at once by ``orderPurchase(orderID:)``).
    case orderPayment(orderID: String)
    /// A pack order's price taken from the main balance to pack revenue.
    case orderPurchase(orderID: String)
    /// The `number`th allowance (from 1) a pack order granted, as a bucket.
    case orderGrant(orderID: String, number: Int)
    /// A refund's money taken off the main balance back to the provider's clearing account.
    case refund(refundID: String, orderID: String)
    /// A pack refund's price moved back from pack revenue into the main balance.
    case refundUnbuy(refundID: String, orderID: String)
    /// A pack refund taking back the `number`th allowance the order granted.
    case refundGrant(refundID: String, orderID: String, number: Int)
    /// What an open dispute holds off the line.
    case disputeHold(disputeID: String, orderID: String)
    /// What a won dispute gives back.
    case disputeRelease(disputeID: String, orderID: String)
    /// A money card's value credited.
    case voucherRedemption(serial: Int64)
    /// A pack card's value paid into the main balance.
    case voucherPayment(serial: Int64)
    /// A pack card's value taken to pack revenue.
    case voucherPurchase(serial: Int64)
    /// The `number`th allowance of a pack card.
    case voucherGrant(serial: Int64, number: Int)
    /// A renewing pack's price for period `cycle`.
    case renewalPurchase(renewalID: String, cycle: Int)
    /// The `number`th allowance of a renewing pack for period `cycle`.
    case renewalGrant(renewalID: String, cycle: Int, number: Int)
    /// Usage charged by the online charging system: the `number`th bucket drawn by credit-control request `requestID`
    /// (a row of `charging_requests`; an imported record is ``cdrCharge(recordID:revision:number:)``).
    case usageCharge(requestID: Int64, number: Int)
    /// An imported call detail record's money and allowances (`revision` 0), or the difference a re-rating posts
    /// (`revision` 1, 2, …: a further debit or a refund credit): the `number`th posting of that revision of `cdr_records`
    /// row `recordID`. Its own case because `cdr_records` ids and `charging_requests` ids overlap, so keys built as
    /// ``usageCharge(requestID:number:)`` would collide; the revision makes each re-rating's postings keys of their own.
    case cdrCharge(recordID: Int64, revision: Int, number: Int)

    /// The `purpose` column.
    public enum Name: String, Sendable, CaseIterable {
        case topUp = "top_up", debit
        case orderCredit = "order_credit", orderBonus = "order_bonus", orderPayment = "order_payment"
        case orderPurchase = "order_purchase", orderGrant = "order_grant"
        case orderBonusGrant = "order_bonus_grant", orderDiscount = "order_discount"
        case refund, refundUnbuy = "refund_unbuy", refundGrant = "refund_grant"
        case disputeHold = "dispute_hold", disputeRelease = "dispute_release"
        case voucherRedemption = "voucher_redemption", voucherPayment = "voucher_payment"
        case voucherPurchase = "voucher_purchase", voucherGrant = "voucher_grant"
        case renewalPurchase = "renewal_purchase", renewalGrant = "renewal_grant"
        case usageCharge = "usage_charge"
        case cdrCharge = "cdr_charge"
    }

    public var name: Name {
        switch self {
        case .topUp: .topUp
        case .debit: .debit
        case .orderCredit: .orderCredit
        case .orderBonus: .orderBonus
        case .orderPayment: .orderPayment
        case .orderPurchase: .orderPurchase
        case .orderGrant: .orderGrant
        case .orderBonusGrant: .orderBonusGrant
        case .orderDiscount: .orderDiscount
        case .refund: .refund
        case .refundUnbuy: .refundUnbuy
        case .refundGrant: .refundGrant
        case .disputeHold: .disputeHold
        case .disputeRelease: .disputeRelease
        case .voucherRedemption: .voucherRedemption
        case .voucherPayment: .voucherPayment
        case .voucherPurchase: .voucherPurchase
        case .voucherGrant: .voucherGrant
        case .renewalPurchase: .renewalPurchase
        case .renewalGrant: .renewalGrant
        case .usageCharge: .usageCharge
        case .cdrCharge: .cdrCharge
        }
    }

    /// The `order_id` column: the order this operation pays, fulfils, refunds or disputes.
    public var orderID: String? {
        switch self {
        case .orderCredit(let order), .orderBonus(let order), .orderPayment(let order), .orderPurchase(let order),
             .orderGrant(let order, _), .orderBonusGrant(let order, _), .orderDiscount(let order), .refund(_, let order), .refundUnbuy(_, let order), .refundGrant(_, let order, _),
             .disputeHold(_, let order), .disputeRelease(_, let order):
            order
        case .topUp, .debit, .voucherRedemption, .voucherPayment, .voucherPurchase, .voucherGrant, .renewalPurchase, .renewalGrant, .usageCharge, .cdrCharge:
            nil
        }
    }

    /// The `refund_id` column.
    public var refundID: String? {
        switch self {
        case .refund(let refund, _), .refundUnbuy(let refund, _), .refundGrant(let refund, _, _): refund
        case .topUp, .debit, .orderCredit, .orderBonus, .orderPayment, .orderPurchase, .orderGrant, .orderBonusGrant, .orderDiscount, .disputeHold, .disputeRelease,
             .voucherRedemption, .voucherPayment, .voucherPurchase, .voucherGrant, .renewalPurchase, .renewalGrant, .usageCharge, .cdrCharge:
            nil
        }
    }

    /// The `subject_id` column: what else the operation belongs to (a dispute, a card's serial, a renewal).
    public var subjectID: String? {
        switch self {
        case .disputeHold(let dispute, _), .disputeRelease(let dispute, _): dispute
        case .voucherRedemption(let serial), .voucherPayment(let serial), .voucherPurchase(let serial), .voucherGrant(let serial, _):
            String(serial)
        case .renewalPurchase(let renewal, _), .renewalGrant(let renewal, _, _): renewal
        case .usageCharge(let request, _): String(request)
        case .cdrCharge(let record, _, _): String(record)
        case .topUp, .debit, .orderCredit, .orderBonus, .orderPayment, .orderPurchase, .orderGrant, .orderBonusGrant, .orderDiscount, .refund, .refundUnbuy, .refundGrant:
            nil
        }
    }

    /// The `grant_number` column: which allowance (from 1) of a pack.
    public var grantNumber: Int? {
        switch self {
        case .orderGrant(_, let number), .orderBonusGrant(_, let number), .refundGrant(_, _, let number), .voucherGrant(_, let number), .renewalGrant(_, _, let number),
             .usageCharge(_, let number), .cdrCharge(_, _, let number):
            number
        case .topUp, .debit, .orderCredit, .orderBonus, .orderDiscount, .orderPayment, .orderPurchase, .refund, .refundUnbuy, .disputeHold,
             .disputeRelease, .voucherRedemption, .voucherPayment, .voucherPurchase, .renewalPurchase:
            nil
        }
    }

    /// The key of an operation the server makes itself, built from its purpose so that a retry (after a crash, or
    /// a rolled-back batch) claims the same key. Nil for a client's operations, whose key the client chose.
    /// These texts are written, never read: the formats are those of the keys already stored.
    public var idempotencyKey: String? {
        switch self {
        case .topUp, .debit: nil
        case .orderCredit(let order): "order:\(order):credit"
        case .orderBonus(let order): "order:\(order):bonus"
        case .orderPayment(let order): "order:\(order):pay"
        case .orderPurchase(let order): "order:\(order):buy"
        case .orderGrant(let order, let number): "order:\(order):grant:\(number)"
        case .orderBonusGrant(let order, let number): "order:\(order):bonus:\(number)"
        case .orderDiscount(let order): "order:\(order):discount"
        case .refund(let refund, _): "refund:\(refund)"
        case .refundUnbuy(let refund, _): "refund:\(refund):unbuy"
        case .refundGrant(let refund, _, let number): "refund:\(refund):grant:\(number)"
        case .disputeHold(let dispute, _): "dispute:\(dispute):hold"
        case .disputeRelease(let dispute, _): "dispute:\(dispute):release"
        case .voucherRedemption(let serial): "voucher:\(serial)"
        case .voucherPayment(let serial): "voucher:\(serial):pay"
        case .voucherPurchase(let serial): "voucher:\(serial):buy"
        case .voucherGrant(let serial, let number): "voucher:\(serial):grant:\(number)"
        case .renewalPurchase(let renewal, let cycle): "renewal:\(renewal):\(cycle):buy"
        case .renewalGrant(let renewal, let cycle, let number): "renewal:\(renewal):\(cycle):grant:\(number)"
        case .usageCharge(let request, let number): "usage:\(request):\(number)"
        case .cdrCharge(let record, let revision, let number): "cdr:\(record):\(revision):\(number)"
        }
    }

    /// Whether a money top-up with this purpose is announced to the subscriber as money arriving. A pack bought
    /// online passes its price through the main balance (``orderPayment(orderID:)``, then
    /// ``orderPurchase(orderID:)``): the subscriber hears about the pack, not about a top-up spent at once; its
    /// refund passes the price back the same way (``refundUnbuy(refundID:orderID:)``).
    public var announcesTopUp: Bool {
        switch self {
        // A re-rating's refund credit is a correction of usage charged, not money arriving.
        case .orderPayment, .refundUnbuy, .cdrCharge: false
        case .topUp, .debit, .orderCredit, .orderBonus, .orderPurchase, .orderGrant, .orderBonusGrant, .orderDiscount, .refund, .refundGrant, .disputeHold,
             .disputeRelease, .voucherRedemption, .voucherPayment, .voucherPurchase, .voucherGrant, .renewalPurchase, .renewalGrant, .usageCharge:
            true
        }
    }

    /// Whether a debit with this purpose charges use the network already had granted (a charging session's commit): it
    /// is posted even when the line was suspended meanwhile, since the units were reserved while it was active.
    public var chargesGrantedUse: Bool {
        switch self {
        case .usageCharge: true
        case .topUp, .debit, .orderCredit, .orderBonus, .orderPayment, .orderPurchase, .orderGrant, .orderBonusGrant, .orderDiscount, .refund, .refundUnbuy,
             .refundGrant, .disputeHold, .disputeRelease, .voucherRedemption, .voucherPayment, .voucherPurchase, .voucherGrant, .renewalPurchase, .renewalGrant,
             .cdrCharge:
            false
        }
    }

    /// Whether a debit with this purpose that empties a pack is the subscriber using it up. A refund taking a
    /// pack's buckets back is not.
    public var isUsage: Bool {
        switch self {
        case .refund, .refundUnbuy, .refundGrant: false
        case .topUp, .debit, .orderCredit, .orderBonus, .orderPayment, .orderPurchase, .orderGrant, .orderBonusGrant, .orderDiscount, .disputeHold, .disputeRelease,
             .voucherRedemption, .voucherPayment, .voucherPurchase, .voucherGrant, .renewalPurchase, .renewalGrant, .usageCharge, .cdrCharge:
            true
        }
    }
}

import Foundation

/// What fulfilling a paid order does to the ledger, decided from the order alone.
///
/// A top-up: its credit to the main balance from the payment method's clearing account, and any promotional
/// bonus in a bucket of its own funded by promotion expense (never by the payer). A pack or plan: the price paid
/// in and spent (clearing → main → pack revenue), then one bucket per allowance with the pack's validity, funded
/// by the allowance account. A test payment (the sandbox) is booked against `clearing:sandbox:*` and its pack
/// price goes back there instead of to revenue: no report or bill may count money that was never paid.
///
/// A discounted top-up credits what was paid from clearing and the discount from promotion expense, so clearing
/// only ever expects what the payer really sends. Bonus buckets a promotion grants (data, minutes, SMS) are more
/// steps of the same plan, applied in the same transaction as the payment, each funded by its allowance account and
/// keyed by the order and its number (``OperationPurpose/orderBonusGrant(orderID:number:)``), so a retry grants nothing twice.
///
/// The ledger books the payment in the line's currency: the quoted settlement when the payer paid in another.
public struct FulfilmentPlan: Sendable, Equatable {
    public private(set) var steps: [LedgerStep]
    /// Whether the line must accept debits too (a pack is paid in and spent in one go; a suspended line takes
    /// top-ups but not purchases), or only top-ups.
    public let needsDebits: Bool
    /// The data allowance to announce (a pack's), with its end; money top-ups are announced by the ledger itself.
    public let dataPackAdded: (bytes: Int64, validUntil: Date?)?
    /// The pack to renew at the end of each period, when the order asked for it.
    public let renewal: (productCode: String, validUntil: Date)?
    /// The buckets a promotion granted, to announce (``NotificationEvent/bonusGranted(promotionName:grants:)``).
    public let bonusGranted: [GrantedBonus]

    public static func == (lhs: FulfilmentPlan, rhs: FulfilmentPlan) -> Bool {
        lhs.steps == rhs.steps && lhs.needsDebits == rhs.needsDebits && lhs.dataPackAdded?.bytes == rhs.dataPackAdded?.bytes
            && lhs.dataPackAdded?.validUntil == rhs.dataPackAdded?.validUntil && lhs.renewal?.productCode == rhs.renewal?.productCode
            && lhs.renewal?.validUntil == rhs.renewal?.validUntil && lhs.bonusGranted == rhs.bonusGranted
    }

    public init(order: RechargeOrder, lineCurrency: Currency, now: Date) throws(RechargeError) {
        let quote = order.quote
        let method = order.paymentMethod
        let paid = quote.settlementAmount
        let clearing = LedgerStep.Account(code: method.clearingAccount(unit: paid.currency.code), kind: .clearing, unit: paid.currency.code)
        let validUntil = quote.validityDays.map { now.addingTimeInterval(TimeInterval($0) * 86_400) }
        switch quote.productKind {
        case .topUp:
            steps = try Self.topUp(order, clearing: clearing, now: now)
            needsDebits = false
            dataPackAdded = nil
            renewal = nil
        case .pack, .plan:
            steps = try Self.pack(order, price: paid, clearing: clearing, lineCurrency: lineCurrency, validUntil: validUntil, now: now)
            needsDebits = true
            dataPackAdded = quote.allowances.first { $0.kind == .data }.map { ($0.amount, validUntil) }
            if quote.autoRenew == true, let code = quote.productCode, let validUntil { renewal = (code, validUntil) } else { renewal = nil }
        }
        let bonus = try Self.bonusGrants(order, lineCurrency: lineCurrency, now: now)
        steps += bonus.steps
        bonusGranted = bonus.granted
    }

    /// One step per bucket the order's bucket bonus grants, each with its own validity, named after the promotion.
    private static func bonusGrants(_ order: RechargeOrder, lineCurrency: Currency,
                                    now: Date) throws(RechargeError) -> (steps: [LedgerStep], granted: [GrantedBonus]) {
        let quote = order.quote
        guard let grants = quote.bonusAllowances, !grants.isEmpty else { return ([], []) }
        let name = quote.bonusNames?["en"].map { String($0.prefix(100)) }
        var steps: [LedgerStep] = []
        var granted: [GrantedBonus] = []
        for (index, allowance) in grants.enumerated() {
            let unit = allowance.kind.unit(currency: lineCurrency)
            let validUntil = now.addingTimeInterval(TimeInterval(allowance.validityDays) * 86_400)
            let grant = try BucketGrant(kind: allowance.kind, amount: allowance.amount, name: name, validFrom: now, validUntil: validUntil,
                                        priority: BucketGrant.defaultPriority, coverage: allowance.countries.map(Set.init))
            steps.append(LedgerStep(
                .topUp(try TopUpCommand(msisdn: order.msisdn, value: .bucket(grant, currency: lineCurrency), channel: .promotion, reference: order.id)),
                purpose: .orderBonusGrant(orderID: order.id, number: index + 1),
                counterparty: LedgerStep.Account(code: LedgerAccountCode.allowance(unit: unit), kind: .allowance, unit: unit)))
            granted.append(GrantedBonus(kind: allowance.kind, amount: allowance.amount, validUntil: validUntil))
        }
        return (steps, granted)
    }

    private static func topUp(_ order: RechargeOrder, clearing: LedgerStep.Account, now: Date) throws(RechargeError) -> [LedgerStep] {
        let quote = order.quote
        guard let credit = quote.credit else { throw .invalidRequest("Top-up order \(order.id) has no credit.") }
        let source = credit.currency == quote.settlementAmount.currency
            ? clearing
            : LedgerStep.Account(code: order.paymentMethod.clearingAccount(unit: credit.currency.code), kind: .clearing, unit: credit.currency.code)
        // A top-up discount: the payer paid the credit less the discount, which promotion expense makes up.
        let discount = quote.discount.flatMap { $0.currency == credit.currency && $0.micros < credit.micros ? $0 : nil }
        let paidCredit = discount.map { Money(micros: credit.micros - $0.micros, currency: credit.currency) } ?? credit
        var steps = [LedgerStep(
            .topUp(try TopUpCommand(msisdn: order.msisdn, value: .money(paidCredit), channel: order.paymentMethod.channel, reference: order.id)),
            purpose: .orderCredit(orderID: order.id), counterparty: source)]
        if let discount {
            let expense = LedgerStep.Account(code: LedgerAccountCode.promotionExpense(unit: discount.currency.code), kind: .expense,
                                             unit: discount.currency.code)
            steps.append(LedgerStep(
                .topUp(try TopUpCommand(msisdn: order.msisdn, value: .money(discount), channel: .promotion, reference: order.id)),
                purpose: .orderDiscount(orderID: order.id), counterparty: expense))
        }
        if let bonus = quote.bonus {
            // Bonus money has its own bucket and expiry, and is funded by promotion expense, not by the payer.
            let expense = LedgerStep.Account(code: LedgerAccountCode.promotionExpense(unit: bonus.currency.code), kind: .expense, unit: bonus.currency.code)
            let grant = try BucketGrant(
                kind: .monetary, amount: bonus.micros, name: quote.promotions.first.map { "Bonus (\($0))" } ?? "Bonus", validFrom: now,
                validUntil: quote.bonusValidityDays.map { now.addingTimeInterval(TimeInterval($0) * 86_400) }, priority: BucketGrant.defaultPriority)
            steps.append(LedgerStep(
                .topUp(try TopUpCommand(msisdn: order.msisdn, value: .bucket(grant, currency: bonus.currency), channel: .promotion, reference: order.id)),
                purpose: .orderBonus(orderID: order.id), counterparty: expense))
        }
        return steps
    }

    private static func pack(_ order: RechargeOrder, price: Money, clearing: LedgerStep.Account, lineCurrency: Currency, validUntil: Date?,
                             now: Date) throws(RechargeError) -> [LedgerStep] {
        let quote = order.quote
        let channel = order.paymentMethod.channel
        let purchase = order.paymentMethod.purchaseAccount(unit: price.currency.code)
        var steps = [
            LedgerStep(.topUp(try TopUpCommand(msisdn: order.msisdn, value: .money(price), channel: channel, reference: order.id)),
                       purpose: .orderPayment(orderID: order.id), counterparty: clearing),
            LedgerStep(.debit(try DebitCommand(msisdn: order.msisdn, kind: .monetary, amount: price.micros, currency: price.currency,
                                               channel: channel, reference: order.id)),
                       purpose: .orderPurchase(orderID: order.id),
                       counterparty: LedgerStep.Account(code: purchase.code, kind: purchase.kind, unit: price.currency.code)),
        ]
        for (index, allowance) in quote.allowances.enumerated() {
            let unit = allowance.kind.unit(currency: lineCurrency)
            let grant = try BucketGrant(kind: allowance.kind, amount: allowance.amount, name: quote.names["en"], validFrom: now,
                                        validUntil: validUntil, priority: BucketGrant.defaultPriority, coverage: quote.coverage.map(Set.init))
            steps.append(LedgerStep(
                .topUp(try TopUpCommand(msisdn: order.msisdn, value: .bucket(grant, currency: lineCurrency), channel: channel, reference: order.id)),
                purpose: .orderGrant(orderID: order.id, number: index + 1),
                counterparty: LedgerStep.Account(code: LedgerAccountCode.allowance(unit: unit), kind: .allowance, unit: unit)))
        }
        return steps
    }
}

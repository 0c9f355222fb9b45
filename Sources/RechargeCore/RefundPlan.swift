import Foundation

/// What a refund of an order gives back, decided from the order and what was refunded before it.
///
/// A top-up that earned a bonus keeps the bonus: at most the price less the bonus goes back, so a refund can
/// never turn promotional credit into cash. A pack (or plan) goes back whole and only unused: each bucket it
/// granted is taken back in full (a used or expired one fails the refund, when the ledger refuses the draw), and
/// its price returns from pack revenue through the main balance to the clearing account — the purchase's own
/// path, reversed. An order paid in another currency (CNY for a USD line) is refunded in the currency paid; the
/// line gives back the same share of the settlement, converted cumulatively (rounded down each time) so that
/// partial refunds add up to exactly the settlement, never more.
public struct RefundPlan: Sendable, Equatable {
    /// What the payer gets back, in the currency paid.
    public let amount: Money
    /// What leaves the line, in its currency.
    public let ledgerAmount: Money
    /// The order's state once this refund is recorded.
    public let orderState: OrderState
    public let isPack: Bool

    /// - Parameters:
    ///   - refunded: what earlier refunds (not failed) gave back, in micro-units of the price's currency.
    ///   - requested: nil for everything still refundable.
    public init(order: RechargeOrder, refunded: Int64, requested: Money?) throws(RechargeError) {
        let price = order.quote.price
        let settlement = order.quote.settlementAmount
        if let requested, requested.currency != price.currency {
            throw .currencyMismatch(expected: price.currency.code, got: requested.currency.code)
        }
        isPack = order.quote.productKind != .topUp
        let ceiling: Int64
        if isPack {
            ceiling = price.micros
            if let requested, requested.micros != price.micros, refunded == 0 {
                throw .invalidAmount(requested.decimalString, reason: "a pack is refunded whole (\(price.decimalString) \(price.currency.code)) or not at all")
            }
        } else {
            // A bonus stays with the line and is never paid out: its share of the price is not refundable.
            let bonus = order.quote.bonus?.micros ?? 0
            ceiling = price.micros - (settlement.currency == price.currency ? bonus : ProportionalAmount.up(bonus, from: settlement.micros, to: price.micros))
        }
        let micros = requested?.micros ?? (ceiling - refunded)
        let shown = Money(micros: micros, currency: price.currency)
        guard micros > 0 else { throw .invalidAmount(shown.decimalString, reason: "nothing is left to refund on order \(order.id)") }
        guard micros % price.currency.microsPerMinorUnit == 0 else { throw .invalidAmount(shown.decimalString, reason: "refunds are made in whole minor units") }
        guard refunded + micros <= ceiling else {
            throw .invalidAmount(shown.decimalString,
                                 reason: "at most \(Money(micros: ceiling - refunded, currency: price.currency).decimalString) of order \(order.id) can still be refunded")
        }
        var lifecycle = OrderLifecycle(orderID: order.id, state: order.state)
        _ = try lifecycle.handle(.refunded(full: refunded + micros == price.micros))
        orderState = lifecycle.state
        amount = shown
        ledgerAmount = Money(
            micros: settlement.currency == price.currency ? micros
                : ProportionalAmount.down(refunded + micros, from: price.micros, to: settlement.micros)
                    - ProportionalAmount.down(refunded, from: price.micros, to: settlement.micros),
            currency: settlement.currency)
    }

    /// The ledger operations, in order: for a pack, each granted bucket taken back whole (`grantedBuckets[n]` is
    /// the bucket of allowance n + 1) and the price moved back from where the purchase put it into the main
    /// balance; then the refunded money off the main balance (never below zero) to the provider's clearing account.
    public func steps(order: RechargeOrder, refundID: String, grantedBuckets: [Int64]) throws(RechargeError) -> [LedgerStep] {
        let method = order.paymentMethod
        let channel = method.channel
        let currency = ledgerAmount.currency
        let unit = currency.code
        var steps: [LedgerStep] = []
        if isPack {
            for (index, allowance) in order.quote.allowances.enumerated() where index < grantedBuckets.count {
                let allowanceUnit = allowance.kind.unit(currency: currency)
                let takeBack = try DebitCommand(msisdn: order.msisdn, kind: allowance.kind, amount: allowance.amount,
                                                currency: allowance.kind == .monetary ? currency : nil, channel: channel,
                                                reference: refundID, bucketID: grantedBuckets[index])
                steps.append(LedgerStep(.debit(takeBack), purpose: .refundGrant(refundID: refundID, orderID: order.id, number: index + 1),
                                        counterparty: LedgerStep.Account(code: LedgerAccountCode.allowance(unit: allowanceUnit), kind: .allowance,
                                                                         unit: allowanceUnit)))
            }
            // From where the purchase put it: pack revenue, or the sandbox's clearing account for a test payment.
            let purchase = method.purchaseAccount(unit: unit)
            let unbuy = try TopUpCommand(msisdn: order.msisdn, value: .money(ledgerAmount), channel: channel, reference: refundID)
            steps.append(LedgerStep(.topUp(unbuy), purpose: .refundUnbuy(refundID: refundID, orderID: order.id),
                                    counterparty: LedgerStep.Account(code: purchase.code, kind: purchase.kind, unit: unit)))
        }
        let debit = try DebitCommand(msisdn: order.msisdn, kind: .monetary, amount: ledgerAmount.micros, currency: currency, channel: channel,
                                     reference: refundID, mainBalanceOnly: true)
        steps.append(LedgerStep(.debit(debit), purpose: .refund(refundID: refundID, orderID: order.id),
                                counterparty: LedgerStep.Account(code: method.clearingAccount(unit: unit), kind: .clearing, unit: unit)))
        return steps
    }
}

extension RefundPlan {
    /// The operator-side accounts any refund of `order` books against (what ``steps(order:refundID:grantedBuckets:)``
    /// names as counterparties, whatever the amount): known before the refund's transaction, so they can be created first.
    public static func counterparties(of order: RechargeOrder) -> [LedgerStep.Account] {
        let method = order.paymentMethod
        let currency = order.quote.settlementAmount.currency
        let unit = currency.code
        var accounts: [LedgerStep.Account] = []
        if order.quote.productKind != .topUp {
            for allowance in order.quote.allowances {
                let allowanceUnit = allowance.kind.unit(currency: currency)
                accounts.append(LedgerStep.Account(code: LedgerAccountCode.allowance(unit: allowanceUnit), kind: .allowance, unit: allowanceUnit))
            }
            let purchase = method.purchaseAccount(unit: unit)
            accounts.append(LedgerStep.Account(code: purchase.code, kind: purchase.kind, unit: unit))
        }
        accounts.append(LedgerStep.Account(code: method.clearingAccount(unit: unit), kind: .clearing, unit: unit))
        return accounts
    }
}

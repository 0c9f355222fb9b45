import Foundation
import RechargeCore
import SQLKit

/// Refunds of fulfilled orders, in two steps around the provider's refund call:
///
/// 1. ``OrderStore/startRefund(orderID:amount:reason:key:now:)``: one transaction locks the order, checks the
///    amount against what is still refundable, takes it off the line's main balance (a ledger debit to the
///    provider's clearing account, never below zero: money the subscriber already spent cannot go back),
///    moves the order to `partially_refunded` or `refunded`, queues the `refund` message and records the
///    refund as `pending`.
/// 2. The provider is asked (outside any transaction), then ``OrderStore/completeRefund(_:providerReference:now:)``
///    marks it `succeeded`.
///
/// A top-up that earned a bonus keeps the bonus: at most the price less the bonus goes back, so a refund can
/// never turn promotional credit into cash. A pack (or plan) goes back whole and only unused: each bucket it
/// granted is taken back in full (a used or expired one fails the refund), and its price returns from pack
/// revenue through the main balance to the clearing account — the purchase's own path, reversed.
/// An order paid in another currency (CNY for a USD line) is refunded in the currency paid; the line gives back
/// the same share of the settlement, converted cumulatively so that partial refunds add up to it exactly.
extension OrderStore {
    public struct RefundStart: Sendable, Equatable {
        public let refund: OrderRefund
        public let order: RechargeOrder
        public let replayed: Bool
    }

    public func startRefund(orderID: String, amount: Money?, reason: String, key: IdempotencyKey, now: Date) async throws -> RefundStart {
        guard RechargeOrder.isWellFormedID(orderID) else { throw RechargeError.orderNotFound(orderID) }
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...500).contains(reason.count) else { throw RechargeError.invalidRequest("A refund needs a reason of 1 to 500 characters.") }
        let fingerprint = sha256Hex("refund|\(orderID)|\(amount.map { "\($0.currency.code)|\($0.micros)" } ?? "rest")|\(reason)")
        let creationKey = "\(orderID) \(key.value)"
        var generator = SystemRandomNumberGenerator()
        let refundID = "rf_" + RechargeOrder.newID(using: &generator).dropFirst(4)
        var attempt = 0
        while true {
            do {
                return try await database.transaction { [database] db in
                    var order = try await Self.lockOrder(orderID, database: database, in: db)
                    if let row = try await db.raw("""
                        SELECT \(unsafeRaw: RefundRow.columns), fingerprint FROM refunds WHERE creation_key = \(bind: creationKey)
                        """).first() {
                        guard try row.string("fingerprint") == fingerprint else { throw RechargeError.idempotencyKeyReused(key.value) }
                        return RefundStart(refund: try RefundRow.decode(row), order: order, replayed: true)
                    }
                    // The payer gets back `price` money; the line gives back `settlement` money (they differ when the
                    // payer paid in another currency: a USD line paid for in CNY is refunded in CNY).
                    let price = order.quote.price
                    let settlement = order.quote.settlementAmount
                    if let amount, amount.currency != price.currency {
                        throw RechargeError.currencyMismatch(expected: price.currency.code, got: amount.currency.code)
                    }
                    let refunded = try await db.raw("""
                        SELECT CAST(COALESCE(SUM(amount_micros), 0) AS BIGINT) AS total FROM refunds WHERE order_id = \(bind: order.id) AND state <> 'failed'
                        """).first()?.int64("total") ?? 0
                    let isPack = order.quote.productKind != .topUp
                    let ceiling: Int64
                    if isPack {
                        // A pack goes back whole, and only unused (checked on its buckets below).
                        ceiling = price.micros
                        if let amount, amount.micros != price.micros, refunded == 0 {
                            throw RechargeError.invalidAmount(amount.decimalString, reason: "a pack is refunded whole (\(price.decimalString) \(price.currency.code)) or not at all")
                        }
                    } else {
                        // A bonus stays with the line and is never paid out: its share of the price is not refundable.
                        let bonus = order.quote.bonus?.micros ?? 0
                        ceiling = price.micros - (settlement.currency == price.currency ? bonus : Self.convertUp(bonus, from: settlement.micros, to: price.micros))
                    }
                    let requested = amount?.micros ?? (ceiling - refunded)
                    guard requested > 0 else {
                        throw RechargeError.invalidAmount(Money(micros: requested, currency: price.currency).decimalString, reason: "nothing is left to refund on order \(order.id)")
                    }
                    guard requested % price.currency.microsPerMinorUnit == 0 else {
                        throw RechargeError.invalidAmount(Money(micros: requested, currency: price.currency).decimalString, reason: "refunds are made in whole minor units")
                    }
                    guard refunded + requested <= ceiling else {
                        throw RechargeError.invalidAmount(
                            Money(micros: requested, currency: price.currency).decimalString,
                            reason: "at most \(Money(micros: ceiling - refunded, currency: price.currency).decimalString) of order \(order.id) can still be refunded")
                    }
                    var lifecycle = OrderLifecycle(orderID: order.id, state: order.state)
                    _ = try lifecycle.handle(.refunded(full: refunded + requested == price.micros))

                    // What leaves the line, in its currency: the same share of the settlement, converted cumulatively
                    // (rounded down each time, so partial refunds add up to exactly the settlement, never more).
                    let ledgerAmount = settlement.currency == price.currency ? requested
                        : Self.convertDown(refunded + requested, from: price.micros, to: settlement.micros) - Self.convertDown(refunded, from: price.micros, to: settlement.micros)
                    let channel = order.paymentMethod.channel
                    let unit = settlement.currency.code
                    let clearing = try await LedgerStore.upsertAccount(
                        db, code: order.paymentMethod.clearingAccount(unit: unit), kind: .clearing, unit: unit, now: now)
                    var requests: [LedgerRequest] = []
                    if isPack {
                        // The exact buckets the pack granted, each taken back whole (an allowance partly used, or
                        // expired, fails the refund), then the price back from pack revenue through the main balance.
                        for (index, allowance) in order.quote.allowances.enumerated() {
                            guard let bucketID = try await db.raw("""
                                SELECT b.id FROM operations o JOIN transfers t ON t.operation_id = o.id JOIN buckets b ON b.account_id = t.credit_account_id
                                WHERE o.idempotency_key = \(bind: "order:\(order.id):grant:\(index + 1)")
                                """).first()?.int64("id")
                            else { throw DatabaseError.invariantViolated("order \(order.id) has no bucket for allowance \(index + 1)") }
                            let allowanceUnit = allowance.kind.unit(currency: settlement.currency)
                            let source = try await LedgerStore.upsertAccount(
                                db, code: LedgerAccountCode.allowance(unit: allowanceUnit), kind: .allowance, unit: allowanceUnit, now: now)
                            let takeBack = try DebitCommand(msisdn: order.msisdn, kind: allowance.kind, amount: allowance.amount,
                                                            currency: allowance.kind == .monetary ? settlement.currency : nil, channel: channel,
                                                            reference: refundID, bucketID: bucketID)
                            requests.append(try LedgerRequest(.debit(takeBack), key: "refund:\(refundID):grant:\(index + 1)", now: now, counterparty: source))
                        }
                        // From where the purchase put it: pack revenue, or the sandbox's clearing account for a test payment.
                        let purchase = order.paymentMethod.purchaseAccount(unit: unit)
                        let revenue = try await LedgerStore.upsertAccount(db, code: purchase.code, kind: purchase.kind, unit: unit, now: now)
                        let unbuy = try TopUpCommand(msisdn: order.msisdn, value: .money(Money(micros: ledgerAmount, currency: settlement.currency)),
                                                     channel: channel, reference: refundID)
                        requests.append(try LedgerRequest(.topUp(unbuy), key: "refund:\(refundID):unbuy", now: now, counterparty: revenue))
                        // A pack given back does not renew.
                        try await db.raw("""
                            UPDATE pack_renewals SET state = 'cancelled', updated_at = \(bind: now.unixMicros) WHERE order_id = \(bind: order.id) AND state = 'active'
                            """).run()
                    }
                    let debit = try DebitCommand(msisdn: order.msisdn, kind: .monetary, amount: ledgerAmount, currency: settlement.currency, channel: channel,
                                                 reference: refundID, mainBalanceOnly: true)
                    requests.append(try LedgerRequest(.debit(debit), key: "refund:\(refundID)", now: now, counterparty: clearing))
                    let outcomes = try await LedgerBatch.apply(requests, in: db, database: database)
                    guard outcomes.count == requests.count else {
                        throw DatabaseError.invariantViolated("the ledger answered \(outcomes.count) outcomes for refund \(refundID)")
                    }
                    var operation: LedgerOperation?
                    for (index, outcome) in outcomes.enumerated() {
                        do {
                            let applied = try outcome.get().operation
                            if index == outcomes.count - 1 { operation = applied }
                        } catch RechargeError.insufficientBalance(let msisdn, _, let available, _) {
                            // A stored rejection rolls back with this transaction: the keys stay free.
                            if isPack, index < order.quote.allowances.count {
                                throw RechargeError.invalidAmount(price.decimalString,
                                                                  reason: "the pack of order \(order.id) has been used or has expired; only an unused pack is refunded")
                            }
                            throw RechargeError.invalidAmount(
                                Money(micros: requested, currency: price.currency).decimalString,
                                reason: "line \(msisdn) has only \(Money(micros: max(0, available), currency: settlement.currency).decimalString) \(settlement.currency.code) of it left unspent")
                        }
                    }
                    guard let operation else { throw DatabaseError.invariantViolated("no operation for refund \(refundID)") }
                    let lineID = try await Self.lineIDOfOrder(order.id, in: db)
                    let balance = Money(micros: try await NotificationContactRow.monetaryBalances(lineIDs: [lineID], at: now, in: db)[lineID] ?? 0,
                                        currency: settlement.currency)
                    let refund = OrderRefund(id: refundID, orderID: order.id, amount: Money(micros: requested, currency: price.currency), state: .pending,
                                             reason: reason, providerReference: nil, operationID: operation.id, balanceAfter: balance,
                                             createdAt: now, updatedAt: now)
                    try await db.raw("""
                        INSERT INTO refunds (id, order_id, amount_micros, currency, state, reason, operation_id, balance_after_micros, creation_key,
                                             fingerprint, created_at, updated_at)
                        VALUES (\(bind: refund.id), \(bind: order.id), \(bind: requested), \(bind: price.currency.code), 'pending', \(bind: reason),
                                \(bind: operation.id), \(bind: balance.micros), \(bind: creationKey), \(bind: fingerprint), \(bind: now.unixMicros),
                                \(bind: now.unixMicros))
                        """).run()
                    order = order.with(state: lifecycle.state, updatedAt: now)
                    try await Self.saveOrder(order, in: db)
                    if let contact = try await NotificationContactRow.load(msisdns: [order.msisdn.e164], in: db)[order.msisdn.e164]?.contact {
                        _ = try await OutboxStore.enqueue(
                            contact.notifications(for: .refund(amount: refund.amount, balance: balance), eventKey: "refund:\(refund.id)"), now: now, in: db)
                    }
                    return RefundStart(refund: refund, order: order, replayed: false)
                }
            } catch is BatchKeyConflict where attempt < 3 {
                attempt += 1
            }
        }
    }

    /// The provider confirmed the refund.
    public func completeRefund(_ id: String, providerReference: String, now: Date) async throws -> OrderRefund {
        try await database.transaction { db in
            guard let row = try await db.raw("""
                UPDATE refunds SET state = 'succeeded', provider_reference = \(bind: providerReference), updated_at = \(bind: now.unixMicros)
                WHERE id = \(bind: id) AND state IN ('pending', 'succeeded')
                RETURNING \(unsafeRaw: RefundRow.columns)
                """).first()
            else { throw RechargeError.invalidRequest("Refund \(id) is not pending.") }
            return try RefundRow.decode(row)
        }
    }

    /// An order's refunds, oldest first.
    public func refunds(orderID: String) async throws -> [OrderRefund] {
        guard RechargeOrder.isWellFormedID(orderID) else { throw RechargeError.orderNotFound(orderID) }
        return try await database.read { db in
            try await db.raw("SELECT \(unsafeRaw: RefundRow.columns) FROM refunds WHERE order_id = \(bind: orderID) ORDER BY created_at, operation_id, id")
                .all().map(RefundRow.decode)
        }
    }
}

enum RefundRow {
    static let columns = """
        id, order_id, amount_micros, currency, state, reason, provider_reference, operation_id, balance_after_micros, created_at, updated_at
        """

    static func decode(_ row: any SQLRow) throws -> OrderRefund {
        let currency = try Currency(code: try row.string("currency"))
        guard let state = OrderRefund.State(rawValue: try row.string("state")) else {
            throw DatabaseError.invariantViolated("refund \(try row.string("id")) has an unknown state")
        }
        return OrderRefund(
            id: try row.string("id"), orderID: try row.string("order_id"), amount: Money(micros: try row.int64("amount_micros"), currency: currency),
            state: state, reason: try row.string("reason"), providerReference: try row.optional("provider_reference"),
            operationID: try row.optional("operation_id"),
            balanceAfter: try row.optional("balance_after_micros", as: Int64.self).map { Money(micros: $0, currency: currency) },
            createdAt: Date(unixMicros: try row.int64("created_at")), updatedAt: Date(unixMicros: try row.int64("updated_at")))
    }
}

extension OrderStore {
    /// ⌊amount × to / from⌋ in 128-bit arithmetic: `from` of one currency is worth `to` of another.
    static func convertDown(_ amount: Int64, from: Int64, to: Int64) -> Int64 {
        precondition(amount >= 0 && from > 0 && to >= 0)
        let product = amount.multipliedFullWidth(by: to)
        return from.dividingFullWidth((high: product.high, low: product.low)).quotient
    }

    /// ⌈amount × to / from⌉.
    static func convertUp(_ amount: Int64, from: Int64, to: Int64) -> Int64 {
        precondition(amount >= 0 && from > 0 && to >= 0)
        let product = amount.multipliedFullWidth(by: to)
        let (quotient, remainder) = from.dividingFullWidth((high: product.high, low: product.low))
        return remainder > 0 ? quotient + 1 : quotient
    }
}

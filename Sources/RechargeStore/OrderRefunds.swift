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
/// never turn promotional credit into cash. Pack orders are not refunded through this path yet.
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
                    guard order.quote.productKind == .topUp else {
                        throw RechargeError.invalidRequest("Order \(order.id) bought a pack; pack refunds are made by customer service, not through this API yet.")
                    }
                    guard order.quote.settlement == nil else {
                        throw RechargeError.invalidRequest("Order \(order.id) was paid in \(order.quote.price.currency.code) for a line in \(order.quote.settlementAmount.currency.code); such refunds are made by customer service, not through this API yet.")
                    }
                    let price = order.quote.price
                    let refunded = try await db.raw("""
                        SELECT CAST(COALESCE(SUM(amount_micros), 0) AS BIGINT) AS total FROM refunds WHERE order_id = \(bind: order.id) AND state <> 'failed'
                        """).first()?.int64("total") ?? 0
                    let ceiling = price.micros - (order.quote.bonus?.micros ?? 0)
                    let requested = amount?.micros ?? (ceiling - refunded)
                    if let amount, amount.currency != price.currency {
                        throw RechargeError.currencyMismatch(expected: price.currency.code, got: amount.currency.code)
                    }
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

                    let channel = order.paymentMethod.channel
                    let clearing = try await LedgerStore.upsertAccount(
                        db, code: LedgerAccountCode.clearing(channel, unit: price.currency.code), kind: .clearing, unit: price.currency.code, now: now)
                    let debit = try DebitCommand(msisdn: order.msisdn, kind: .monetary, amount: requested, currency: price.currency, channel: channel,
                                                 reference: refundID, mainBalanceOnly: true)
                    let request = try LedgerRequest(.debit(debit), key: "refund:\(refundID)", now: now, counterparty: clearing)
                    guard let outcome = try await LedgerBatch.apply([request], in: db, database: database).first else {
                        throw DatabaseError.invariantViolated("the ledger answered no outcome for refund \(refundID)")
                    }
                    let operation: LedgerOperation
                    do {
                        operation = try outcome.get().operation
                    } catch RechargeError.insufficientBalance(let msisdn, _, let available, _) {
                        // The stored rejection rolls back with this transaction: the key stays free.
                        throw RechargeError.invalidAmount(
                            Money(micros: requested, currency: price.currency).decimalString,
                            reason: "line \(msisdn) has only \(Money(micros: max(0, available), currency: price.currency).decimalString) of it left unspent")
                    }
                    let lineID = try await Self.lineIDOfOrder(order.id, in: db)
                    let balance = Money(micros: try await NotificationContactRow.monetaryBalances(lineIDs: [lineID], at: now, in: db)[lineID] ?? 0,
                                        currency: price.currency)
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

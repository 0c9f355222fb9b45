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
/// What goes back, and by which ledger operations, is the order's ``RefundPlan`` (RechargeCore); this store only
/// executes it: the pack's granted buckets are found by the purpose columns of the operations that granted them.
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
        let accounts = try await systemAccounts.ids(RefundPlan.counterparties(of: try await order(orderID)), now: now)
        return try await Ledger.transaction(database) { [database] db in
            var order = try await Self.lockOrder(orderID, database: database, in: db)
            if let row = try await db.raw("""
                SELECT \(unsafeRaw: RefundRow.columns), fingerprint FROM refunds WHERE creation_key = \(bind: creationKey)
                """).first() {
                guard try row.string("fingerprint") == fingerprint else { throw RechargeError.idempotencyKeyReused(key.value) }
                return RefundStart(refund: try RefundRow.decode(row), order: order, replayed: true)
            }
            let refunded = try await db.raw("""
                SELECT CAST(COALESCE(SUM(amount_micros), 0) AS BIGINT) AS total FROM refunds WHERE order_id = \(bind: order.id) AND state <> 'failed'
                """).first()?.int64("total") ?? 0
            let plan = try RefundPlan(order: order, refunded: refunded, requested: amount)
            let steps = try plan.steps(order: order, refundID: refundID,
                                       grantedBuckets: plan.isPack ? try await Self.grantedBuckets(order, in: db) : [])
            if plan.isPack {
                // A pack given back does not renew.
                try await PackRenewalStore.cancel(orderID: order.id, now: now, in: db)
            }
            let requests = try await LedgerRequest.carrying(steps, accounts: accounts, now: now, in: db)
            let operation = try await Self.applyRefund(requests, plan: plan, order: order, refundID: refundID, database: database, in: db)
            let lineID = try await Self.lineIDOfOrder(order.id, in: db)
            let balance = Money(micros: try await NotificationContactRow.monetaryBalances(lineIDs: [lineID], at: now, in: db)[lineID] ?? 0,
                                currency: plan.ledgerAmount.currency)
            let refund = OrderRefund(id: refundID, orderID: order.id, amount: plan.amount, state: .pending,
                                     reason: reason, providerReference: nil, operationID: operation.id, balanceAfter: balance,
                                     createdAt: now, updatedAt: now)
            try await db.raw("""
                INSERT INTO refunds (id, order_id, amount_micros, currency, state, reason, operation_id, balance_after_micros, creation_key,
                                     fingerprint, created_at, updated_at)
                VALUES (\(bind: refund.id), \(bind: order.id), \(bind: plan.amount.micros), \(bind: plan.amount.currency.code), 'pending', \(bind: reason),
                        \(bind: operation.id), \(bind: balance.micros), \(bind: creationKey), \(bind: fingerprint), \(bind: now.unixMicros),
                        \(bind: now.unixMicros))
                """).run()
            order = order.with(state: plan.orderState, updatedAt: now)
            try await Self.saveOrder(order, in: db)
            if let contact = try await NotificationContactRow.load(msisdns: [order.msisdn.e164], in: db)[order.msisdn.e164]?.contact {
                _ = try await OutboxStore.enqueue(
                    contact.notifications(for: .refund(amount: refund.amount, balance: balance), eventKey: "refund:\(refund.id)"), now: now, in: db)
            }
            return RefundStart(refund: refund, order: order, replayed: false)
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
    /// The buckets a pack order granted, by allowance (the first allowance's bucket first), found by the purpose
    /// columns of the operations that granted them.
    static func grantedBuckets(_ order: RechargeOrder, in db: any SQLDatabase) async throws -> [Int64] {
        var buckets: [Int64] = []
        for number in order.quote.allowances.indices.map({ $0 + 1 }) {
            guard let bucketID = try await db.raw("""
                SELECT b.id FROM operations o JOIN transfers t ON t.operation_id = o.id JOIN buckets b ON b.account_id = t.credit_account_id
                WHERE o.order_id = \(bind: order.id) AND o.purpose = \(bind: OperationPurpose.Name.orderGrant.rawValue)
                  AND o.grant_number = \(bind: number)
                """).first()?.int64("id")
            else { throw DatabaseError.invariantViolated("order \(order.id) has no bucket for allowance \(number)") }
            buckets.append(bucketID)
        }
        return buckets
    }

    /// Applies a refund's requests; returns the last one's operation (the money off the main balance). A refusal
    /// rolls the refund back (a stored rejection rolls back with this transaction: the keys stay free) and is
    /// answered in the refund's terms.
    static func applyRefund(_ requests: [LedgerRequest], plan: RefundPlan, order: RechargeOrder, refundID: String, database: Database,
                            in db: any SQLDatabase) async throws -> LedgerOperation {
        let outcomes = try await Ledger.apply(requests, in: db, database: database)
        guard outcomes.count == requests.count, !outcomes.isEmpty else {
            throw DatabaseError.invariantViolated("the ledger answered \(outcomes.count) outcomes for refund \(refundID)")
        }
        var last: LedgerOperation?
        for (index, outcome) in outcomes.enumerated() {
            do {
                last = try outcome.get().operation
            } catch RechargeError.insufficientBalance(let msisdn, _, let available, _) {
                if plan.isPack, index < order.quote.allowances.count {
                    throw RechargeError.invalidAmount(order.quote.price.decimalString,
                                                      reason: "the pack of order \(order.id) has been used or has expired; only an unused pack is refunded")
                }
                let currency = plan.ledgerAmount.currency
                throw RechargeError.invalidAmount(
                    plan.amount.decimalString,
                    reason: "line \(msisdn) has only \(Money(micros: max(0, available), currency: currency).decimalString) \(currency.code) of it left unspent")
            }
        }
        guard let last else { throw DatabaseError.invariantViolated("no operation for refund \(refundID)") }
        return last
    }
}

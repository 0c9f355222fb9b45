import Foundation
import NIOConcurrencyHelpers
import RechargeCore
import SQLKit

/// Recharge orders: created with a fixed quote, moved through ``OrderLifecycle`` by checkout, payment
/// confirmations, cancellation and expiry, and fulfilled by ledger transfers in the same transaction that
/// records the payment.
///
/// Exactly once, whatever arrives: a confirmation locks its order, records the provider's event id (unique
/// per provider) and asks the lifecycle what to do; the ledger operations are the order's ``FulfilmentPlan``, whose
/// purposes give them keys of their own (see ``OperationPurpose``), so even a fulfilment retried after a crash cannot
/// credit twice.
public final class OrderStore: Sendable {
    public let database: Database
    public let catalog: CatalogStore
    private let makeID: @Sendable () -> String
    /// Operator-side accounts, created before the transactions that book against them.
    let systemAccounts: SystemAccountCache

    /// How long an order waits for its payment before the reconciliation job expires it.
    public static let defaultLifetime: TimeInterval = 30 * 60

    public init(database: Database, catalog: CatalogStore? = nil, makeID: @escaping @Sendable () -> String = {
        var generator = SystemRandomNumberGenerator()
        return RechargeOrder.newID(using: &generator)
    }) {
        self.database = database
        self.catalog = catalog ?? CatalogStore(database: database)
        self.makeID = makeID
        self.systemAccounts = SystemAccountCache(database: database)
    }

    /// What the subscriber wants to buy (kept under this name for the callers that spell it so).
    public typealias Item = OrderItem

    /// The result of a create: the order, and whether it was created by an earlier request with the same key.
    public struct Creation: Sendable, Equatable {
        public let order: RechargeOrder
        public let replayed: Bool
    }

    /// Creates an order in state `created` with its quote fixed now. `Idempotency-Key` semantics: the same key
    /// for the same line with the same request returns the first order; with a different request it is refused.
    ///
    /// `checkout`, when given, starts checkout in the same transaction: it receives the new order's id and returns
    /// the provider's reference for it (a local one: the sandbox's, or a bank-transfer RF reference), and the
    /// order is created `awaiting_payment`.
    ///
    /// `payer`: a guest's order (``OrderPayer/guest(contact:language:)``) is recorded as one in `guest_orders`, in this
    /// transaction, with the contact its success message goes to.
    public func create(msisdn: MSISDN, item: Item, paymentMethod: PaymentMethod, promotionCode: String? = nil, payCurrency: Currency? = nil,
                       payer: OrderPayer = .subscriber, key: IdempotencyKey, now: Date,
                       lifetime: TimeInterval = OrderStore.defaultLifetime,
                       checkout: (@Sendable (String) -> String?)? = nil) async throws -> Creation {
        let itemText: String
        switch item {
        case .product(let code): itemText = "product|\(code)"
        case .amount(let money): itemText = "amount|\(money.currency.code)|\(money.micros)"
        }
        let code = promotionCode?.trimmingCharacters(in: .whitespaces).uppercased() ?? ""
        let fingerprint = sha256Hex("order|\(msisdn.e164)|\(itemText)|\(paymentMethod.rawValue)|\(code)|\(payCurrency?.code ?? "")\(payer.fingerprintPart)")
        let creationKey = "\(msisdn.e164) \(key.value)"
        let id = makeID()
        // An automatic promotion found used up stops applying: plan again without it (at most once per promotion).
        var excluded: Set<String> = []
        while true {
            do {
                return try await create(id: id, msisdn: msisdn, item: item, paymentMethod: paymentMethod, promotionCode: promotionCode,
                                        payCurrency: payCurrency, payer: payer, key: key, fingerprint: fingerprint, creationKey: creationKey,
                                        now: now, lifetime: lifetime, checkout: checkout, excluding: excluded)
            } catch let exhausted as PromotionUse.ExhaustedAutomatic {
                guard excluded.insert(exhausted.code).inserted else { throw exhausted }
            }
        }
    }

    private func create(id: String, msisdn: MSISDN, item: Item, paymentMethod: PaymentMethod, promotionCode: String?, payCurrency: Currency?,
                        payer: OrderPayer, key: IdempotencyKey, fingerprint: String, creationKey: String, now: Date, lifetime: TimeInterval,
                        checkout: (@Sendable (String) -> String?)?, excluding: Set<String>) async throws -> Creation {
        // Orders racing for one limited promotion queue here, in memory, rather than each holding a pooled
        // connection while PostgreSQL makes it wait for the promotion's row lock. The row's conditional update
        // stays the guarantee (across nodes too); the gate only keeps the queue off the pool. Without limited
        // promotions in the catalog (as last read) there is nothing to queue for and no need to look.
        var limited: [String] = []
        if catalog.mayHaveLimitedPromotions {
            limited = try await database.read { [catalog] db in
                let line = try await LedgerStore.loadLine(db, msisdn, lock: nil)
                return try await Self.plan(item: item, line: line, promotionCode: promotionCode, payCurrency: payCurrency, catalog: catalog, now: now,
                                           excluding: excluding, in: db)
                    .quote.limitedPromotions
            }
        }
        do {
            return try await withPromotionGates(limited) { try await self.database.transaction { db in
                if let existing = try await Self.loadByCreationKey(creationKey, in: db) {
                    return try Self.replay(existing, fingerprint: fingerprint, key: key)
                }
                let line = try await LedgerStore.loadLine(db, msisdn, lock: nil)
                guard line.status.acceptsTopUps else { throw RechargeError.lineNotActive(msisdn: msisdn.e164, status: line.status) }
                let plan = try await Self.plan(item: item, line: line, promotionCode: promotionCode, payCurrency: payCurrency, catalog: self.catalog,
                                               now: now, excluding: excluding, in: db)
                let quote = plan.quote
                let reference = checkout?(id)
                let order = plan.order(id: id, msisdn: msisdn, paymentMethod: paymentMethod, providerReference: reference,
                                       checkoutStarted: checkout != nil, now: now, lifetime: lifetime)
                try await db.raw("""
                    INSERT INTO orders (id, line_id, msisdn, state, payment_method, price_micros, currency, quote, creation_key,
                                        fingerprint, created_at, updated_at, expires_at, provider_reference)
                    VALUES (\(bind: id), \(bind: line.id), \(bind: msisdn.e164), \(bind: order.state.rawValue),
                            \(bind: paymentMethod.rawValue), \(bind: quote.price.micros), \(bind: quote.price.currency.code),
                            \(bind: try LedgerStore.encodeResult(quote)), \(bind: creationKey), \(bind: fingerprint),
                            \(bind: now.unixMicros), \(bind: now.unixMicros), \(bind: order.expiresAt.unixMicros), \(bind: reference))
                    """).run()
                if case .guest(let contact, let language) = payer {
                    try await db.raw("""
                        INSERT INTO guest_orders (order_id, channel, recipient, language, created_at)
                        VALUES (\(bind: id), \(bind: contact?.channel.rawValue), \(bind: contact?.recipient), \(bind: language.rawValue), \(bind: now.unixMicros))
                        """).run()
                }
                // Last, so the promotion's row lock is held only until the commit that follows.
                try await Self.take(plan.promotionUses, lineID: line.id, now: now, in: db)
                return Creation(order: order, replayed: false)
            } }
        } catch let error where database.isUniqueViolation(error) {
            // Another node created the order for this key between our check and our insert.
            guard let existing = try await database.read({ db in try await Self.loadByCreationKey(creationKey, in: db) }) else { throw error }
            return try Self.replay(existing, fingerprint: fingerprint, key: key)
        }
    }

    private let gates = NIOLockedValueBox<[String: AsyncGate]>([:])

    private func withPromotionGates<T: Sendable>(_ codes: [String], _ body: () async throws -> T) async throws -> T {
        guard let first = codes.sorted().first else { return try await body() }
        let gate = gates.withLockedValue { gates in
            if let gate = gates[first] { return gate }
            let gate = AsyncGate()
            gates[first] = gate
            return gate
        }
        // Codes are taken in sorted order, so two orders holding two promotions never wait on each other.
        return try await gate.withLock { try await withPromotionGates(Array(codes.sorted().dropFirst()), body) }
    }

    private static func replay(_ existing: (RechargeOrder, String), fingerprint: String, key: IdempotencyKey) throws -> Creation {
        guard existing.1 == fingerprint else { throw RechargeError.idempotencyKeyReused(key.value) }
        return Creation(order: existing.0, replayed: true)
    }

    /// What an order would cost now, with promotions applied (nothing is reserved): for showing the price
    /// change when a subscriber enters a code.
    public func quote(msisdn: MSISDN, item: Item, promotionCode: String?, payCurrency: Currency? = nil, now: Date) async throws -> OrderQuote {
        try await database.read { db in
            let line = try await LedgerStore.loadLine(db, msisdn, lock: nil)
            var excluded: Set<String> = []
            while true {
                let plan = try await Self.plan(item: item, line: line, promotionCode: promotionCode, payCurrency: payCurrency, catalog: self.catalog,
                                               now: now, excluding: excluded, in: db)
                do {
                    try await Self.checkRemaining(plan.promotionUses, lineID: line.id, in: db)
                    return plan.quote
                } catch let exhausted as PromotionUse.ExhaustedAutomatic {
                    guard excluded.insert(exhausted.code).inserted else { throw exhausted }
                }
            }
        }
    }

    /// The order's ``OrderPlacementPlan`` against the catalog as the transaction sees it.
    private static func plan(item: Item, line: Line, promotionCode: String?, payCurrency: Currency?, catalog store: CatalogStore, now: Date,
                             excluding: Set<String> = [], in db: any SQLDatabase) async throws -> OrderPlacementPlan {
        try OrderPlacementPlan(item: item, lineCurrency: line.currency, promotionCode: promotionCode, payCurrency: payCurrency,
                               catalog: try await store.current(in: db), at: now, excluding: excluding)
    }

    /// Takes each use, for the line then overall, by conditional updates against the use's bounds: when a bound is
    /// reached the update matches no row and the order is refused (its transaction rolls back), or, for an automatic
    /// promotion, placed again without it (``PromotionUse/ExhaustedAutomatic``).
    private static func take(_ uses: [PromotionUse], lineID: Int64, now: Date, in db: any SQLDatabase) async throws {
        for use in uses {
            try await db.raw("""
                INSERT INTO promotion_line_usage (promotion, line_id, used, updated_at)
                VALUES (\(bind: use.code), \(bind: lineID), 0, \(bind: now.unixMicros))
                ON CONFLICT (promotion, line_id) DO NOTHING
                """).run()
            guard try await db.raw("""
                UPDATE promotion_line_usage SET used = used + 1, updated_at = \(bind: now.unixMicros)
                WHERE promotion = \(bind: use.code) AND line_id = \(bind: lineID) AND used < \(bind: use.limitPerLine) RETURNING used
                """).first() != nil
            else { throw use.limitReached(forLine: true) }
            try await db.raw("""
                INSERT INTO promotion_usage (promotion, used, updated_at) VALUES (\(bind: use.code), 0, \(bind: now.unixMicros))
                ON CONFLICT (promotion) DO NOTHING
                """).run()
            // The one hot row: every order with this promotion waits here for the previous one's commit.
            guard try await db.raw("""
                UPDATE promotion_usage SET used = used + 1, updated_at = \(bind: now.unixMicros)
                WHERE promotion = \(bind: use.code) AND used < \(bind: use.limitTotal) RETURNING used
                """).first() != nil
            else { throw use.limitReached(forLine: false) }
        }
    }

    private static func lineID(of orderID: String, in db: any SQLDatabase) async throws -> Int64 {
        guard let row = try await db.raw("SELECT line_id FROM orders WHERE id = \(bind: orderID)").first() else {
            throw RechargeError.orderNotFound(orderID)
        }
        return try row.int64("line_id")
    }

    /// Gives back the uses an order held (it was cancelled or expired unpaid).
    private static func release(_ codes: [String], lineID: Int64, now: Date, in db: any SQLDatabase) async throws {
        for code in codes {
            try await db.raw("""
                UPDATE promotion_usage SET used = used - 1, updated_at = \(bind: now.unixMicros) WHERE promotion = \(bind: code) AND used > 0
                """).run()
            try await db.raw("""
                UPDATE promotion_line_usage SET used = used - 1, updated_at = \(bind: now.unixMicros)
                WHERE promotion = \(bind: code) AND line_id = \(bind: lineID) AND used > 0
                """).run()
        }
    }

    /// A quote's check of its uses against the counters as they stand (nothing reserved; ``PromotionUse`` decides).
    private static func checkRemaining(_ uses: [PromotionUse], lineID: Int64, in db: any SQLDatabase) async throws {
        for use in uses {
            let used = try await db.raw("SELECT used FROM promotion_usage WHERE promotion = \(bind: use.code)").first()?.int64("used")
            let usedByLine = try await db.raw("""
                SELECT used FROM promotion_line_usage WHERE promotion = \(bind: use.code) AND line_id = \(bind: lineID)
                """).first()?.int64("used")
            if let refusal = use.refusal(used: used, usedByLine: usedByLine) {
                throw use.isAutomatic ? PromotionUse.ExhaustedAutomatic(code: use.code) : refusal
            }
        }
    }

    /// How many uses of a promotion live orders hold (for reports and tests).
    public func promotionUses(_ code: String) async throws -> Int64 {
        try await database.read { db in
            try await db.raw("SELECT used FROM promotion_usage WHERE promotion = \(bind: code)").first()?.int64("used") ?? 0
        }
    }

    public func order(_ id: String) async throws -> RechargeOrder {
        guard RechargeOrder.isWellFormedID(id) else { throw RechargeError.orderNotFound(id) }
        return try await database.read { db in
            guard let row = try await db.raw("SELECT \(unsafeRaw: OrderRow.columns) FROM orders WHERE id = \(bind: id)").first() else {
                throw RechargeError.orderNotFound(id)
            }
            return try OrderRow.decode(row)
        }
    }

    /// A line's orders, newest first.
    public func orders(msisdn: MSISDN, limit: Int = 50) async throws -> [RechargeOrder] {
        let limit = max(1, min(limit, 200))
        return try await database.read { db in
            _ = try await LedgerStore.loadLine(db, msisdn, lock: nil)
            return try await db.raw("""
                SELECT \(unsafeRaw: OrderRow.columns) FROM orders WHERE msisdn = \(bind: msisdn.e164)
                ORDER BY created_at DESC, id DESC LIMIT \(bind: limit)
                """).all().map(OrderRow.decode)
        }
    }

    /// The ids of the line's orders paid (or to be paid) through the sandbox: what a history marks as test
    /// payments (their operations carry the order id as reference). One query, whatever the history's length,
    /// through the line's id (`orders_by_line`), not a scan of every order.
    public func testPaymentOrderIDs(msisdn: MSISDN) async throws -> Set<String> {
        let methods = PaymentMethod.allCases.filter(\.isTestPayment).map(\.rawValue)
        return try await database.read { db in
            var ids: Set<String> = []
            for method in methods {
                for row in try await db.raw("""
                    SELECT o.id FROM orders o JOIN lines l ON l.id = o.line_id
                    WHERE l.msisdn = \(bind: msisdn.e164) AND o.payment_method = \(bind: method)
                    """).all() {
                    ids.insert(try row.string("id"))
                }
            }
            return ids
        }
    }

    /// The provider accepted the order (the checkout page, QR code or client secret exists).
    /// `checkoutPayload`: what the payer is shown (a wallet's QR content), kept with the order.
    public func startCheckout(_ id: String, providerReference: String?, checkoutPayload: String? = nil, now: Date) async throws -> RechargeOrder {
        try await transition(id, .checkoutStarted, now: now, providerReference: providerReference, checkoutPayload: checkoutPayload)
    }

    /// The subscriber or an agent gives up on an unpaid order.
    public func cancel(_ id: String, now: Date) async throws -> RechargeOrder {
        try await transition(id, .cancel, now: now, providerReference: nil)
    }

    private func transition(_ id: String, _ event: OrderEvent, now: Date, providerReference: String?,
                            checkoutPayload: String? = nil) async throws -> RechargeOrder {
        guard RechargeOrder.isWellFormedID(id) else { throw RechargeError.orderNotFound(id) }
        return try await database.transaction { [database] db in
            var order = try await Self.lock(id, database: database, in: db)
            var lifecycle = OrderLifecycle(orderID: id, state: order.state)
            switch try lifecycle.handle(event) {
            case .none:
                return order
            case .record, .notifyFailure, .fulfil:
                order = order.with(state: lifecycle.state, updatedAt: now, providerReference: providerReference ?? order.providerReference,
                                   checkoutPayload: checkoutPayload)
                try await Self.save(order, in: db)
                if order.state == .cancelled, !order.quote.limitedPromotions.isEmpty {
                    try await Self.release(order.quote.limitedPromotions, lineID: try await Self.lineID(of: order.id, in: db), now: now, in: db)
                }
                return order
            }
        }
    }

    /// What a confirmation did.
    public struct PaymentOutcome: Sendable, Equatable {
        public let order: RechargeOrder
        /// The provider's event was seen before: nothing changed.
        public let duplicate: Bool
        /// The order was fulfilled by this confirmation (its ledger operations applied now).
        public let fulfilledNow: Bool
    }

    /// Applies a verified payment confirmation: once per (provider, event id), with the amount, currency and
    /// provider checked against the order. A success pays and fulfils the order in this one transaction; a
    /// failure marks it failed and tells the subscriber. Anything that does not match changes nothing.
    public func apply(_ confirmation: PaymentConfirmation, now: Date) async throws -> PaymentOutcome {
        guard RechargeOrder.isWellFormedID(confirmation.orderID) else { throw RechargeError.orderNotFound(confirmation.orderID) }
        let accounts = try await fulfilmentAccounts(confirmation.orderID, now: now)
        return try await Ledger.transaction(database) { [database] db in
            try await Self.apply(confirmation, accounts: accounts, now: now, database: database, in: db)
        }
    }

    /// The operator-side accounts an order's fulfilment books against (its plan's counterparties, fixed by the
    /// quote, the payment method and the line's currency), created once and cached before its transaction starts.
    private func fulfilmentAccounts(_ id: String, now: Date) async throws -> [String: Int64] {
        let (order, currency) = try await database.read { db in
            guard let row = try await db.raw("SELECT \(unsafeRaw: OrderRow.columns) FROM orders WHERE id = \(bind: id)").first() else {
                throw RechargeError.orderNotFound(id)
            }
            let order = try OrderRow.decode(row)
            return (order, try await LedgerStore.loadLine(db, order.msisdn, lock: nil).currency)
        }
        return try await systemAccounts.ids(try FulfilmentPlan(order: order, lineCurrency: currency, now: now).steps.map(\.counterparty), now: now)
    }

    private static func apply(_ confirmation: PaymentConfirmation, accounts: [String: Int64], now: Date, database: Database,
                              in db: any SQLDatabase) async throws -> PaymentOutcome {
        var order = try await lock(confirmation.orderID, database: database, in: db)
        guard confirmation.provider == order.paymentMethod else {
            throw RechargeError.paymentMismatch(order: order.id, reason: "paid through \(confirmation.provider.rawValue), but the order is for \(order.paymentMethod.rawValue)")
        }
        if confirmation.outcome == .succeeded, confirmation.amount != order.quote.price {
            throw RechargeError.paymentMismatch(order: order.id, reason: "\(confirmation.amount) paid, \(order.quote.price) due")
        }
        let inserted = try await db.raw("""
            INSERT INTO payment_events (provider, event_id, order_id, outcome, amount_micros, currency, received_at)
            VALUES (\(bind: confirmation.provider.rawValue), \(bind: confirmation.eventID), \(bind: order.id),
                    \(bind: confirmation.outcome.rawValue), \(bind: confirmation.amount.micros), \(bind: confirmation.amount.currency.code),
                    \(bind: now.unixMicros))
            ON CONFLICT (provider, event_id) DO NOTHING
            RETURNING id
            """).first()
        guard inserted != nil else { return PaymentOutcome(order: order, duplicate: true, fulfilledNow: false) }

        var lifecycle = OrderLifecycle(orderID: order.id, state: order.state)
        let reference = confirmation.providerReference ?? order.providerReference
        switch try lifecycle.handle(confirmation.outcome == .succeeded ? .paymentConfirmed : .paymentFailed) {
        case .none:
            return PaymentOutcome(order: order, duplicate: false, fulfilledNow: false)
        case .record:
            order = order.with(state: lifecycle.state, updatedAt: now, providerReference: reference)
            try await save(order, in: db)
            return PaymentOutcome(order: order, duplicate: false, fulfilledNow: false)
        case .notifyFailure:
            let reason = confirmation.failureReason ?? "declined"
            order = order.with(state: lifecycle.state, updatedAt: now, providerReference: reference, failureReason: reason)
            try await save(order, in: db)
            let contacts = try await NotificationContactRow.load(msisdns: [order.msisdn.e164], in: db)
            if let contact = contacts[order.msisdn.e164]?.contact {
                let notifications = contact.notifications(
                    for: .paymentFailed(amount: order.quote.price, reason: reason),
                    eventKey: "order:\(order.id):\(confirmation.eventID):payment_failed")
                _ = try await OutboxStore.enqueue(notifications, now: now, in: db)
            }
            return PaymentOutcome(order: order, duplicate: false, fulfilledNow: false)
        case .fulfil:
            // An order whose uses were given back (expired or cancelled) takes them again: the price was paid with
            // the promotion, so it is honoured even past its limit.
            if [.expired, .cancelled].contains(order.state), !order.quote.limitedPromotions.isEmpty {
                let promotions = try await CatalogStore.load(db).promotions.filter { order.quote.limitedPromotions.contains($0.code) }
                try await take(promotions.map(PromotionUse.honouring), lineID: try await lineID(of: order.id, in: db), now: now, in: db)
            }
            order = order.with(state: lifecycle.state, updatedAt: now, providerReference: reference, paidAt: now, failureReason: .some(nil))
            let fulfilled = try await fulfil(order, accounts: accounts, now: now, database: database, in: db)
            try await save(fulfilled, in: db)
            return PaymentOutcome(order: fulfilled, duplicate: false, fulfilledNow: fulfilled.state == .fulfilled)
        }
    }

    /// Fulfils orders left `paid` (their line was not active when the money came): run by the
    /// reconciliation job; each order in its own transaction.
    public func fulfilPaidOrders(now: Date, limit: Int = 100) async throws -> Int {
        let ids = try await database.read { db in
            try await db.raw("SELECT id FROM orders WHERE state = 'paid' ORDER BY paid_at LIMIT \(bind: limit)").all().map { try $0.string("id") }
        }
        var count = 0
        for id in ids {
            let accounts = try await fulfilmentAccounts(id, now: now)
            let done = try await Ledger.transaction(database) { [database] db in
                let order = try await Self.lock(id, database: database, in: db)
                guard order.state == .paid else { return false }
                let fulfilled = try await Self.fulfil(order, accounts: accounts, now: now, database: database, in: db)
                guard fulfilled.state == .fulfilled else { return false }
                try await Self.save(fulfilled, in: db)
                return true
            }
            if done { count += 1 }
        }
        return count
    }

    /// Orders of `method` still waiting for their money, created before `createdBefore`, oldest first (for status queries).
    public func awaitingPayment(method: PaymentMethod, createdBefore: Date, limit: Int) async throws -> [RechargeOrder] {
        try await database.read { db in
            try await db.raw("""
                SELECT \(unsafeRaw: OrderRow.columns) FROM orders
                WHERE state = 'awaiting_payment' AND payment_method = \(bind: method.rawValue) AND created_at < \(bind: createdBefore.unixMicros)
                ORDER BY created_at LIMIT \(bind: limit)
                """).all().map(OrderRow.decode)
        }
    }

    /// Expires orders whose payment window closed with nothing confirmed: each overdue order is locked (in id
    /// order) and asked of ``OrderLifecycle`` like any other event, and the promotion uses it held are given back.
    /// A confirmation that arrives later still fulfils the order.
    public func expireOverdue(now: Date) async throws -> Int {
        try await database.transaction { [database] db in
            let due = try await db.raw("""
                SELECT \(unsafeRaw: OrderRow.columns), line_id FROM orders
                WHERE state IN ('created', 'awaiting_payment') AND expires_at <= \(bind: now.unixMicros)
                ORDER BY id\(unsafeRaw: database.forUpdate)
                """).all()
            var expired = 0
            for row in due {
                let order = try OrderRow.decode(row)
                var lifecycle = OrderLifecycle(orderID: order.id, state: order.state)
                switch try lifecycle.handle(.expire) {
                case .none, .fulfil, .notifyFailure:
                    continue
                case .record:
                    try await Self.save(order.with(state: lifecycle.state, updatedAt: now), in: db)
                    expired += 1
                    if !order.quote.limitedPromotions.isEmpty {
                        try await Self.release(order.quote.limitedPromotions, lineID: try row.int64("line_id"), now: now, in: db)
                    }
                }
            }
            return expired
        }
    }

    // MARK: Inside a transaction

    /// Applies the order's ledger operations (its ``FulfilmentPlan``), or leaves it `paid` with the reason when its
    /// line cannot take them.
    private static func fulfil(_ order: RechargeOrder, accounts: [String: Int64], now: Date, database: Database,
                               in db: any SQLDatabase) async throws -> RechargeOrder {
        let line = try await LedgerStore.loadLine(db, order.msisdn, lock: database.forUpdate)
        let plan = try FulfilmentPlan(order: order, lineCurrency: line.currency, now: now)
        guard plan.needsDebits ? line.status.acceptsDebits : line.status.acceptsTopUps else {
            return order.with(state: order.state, updatedAt: now, failureReason: "line is \(line.status.rawValue); fulfilled when it is active again")
        }
        let requests = try await LedgerRequest.carrying(plan.steps, accounts: accounts, now: now, in: db)
        var operationIDs: [Int64] = []
        for outcome in try await Ledger.apply(requests, in: db, database: database) {
            // Rejections other than the line status checked above (insufficient balance for a pack's debit cannot
            // happen: the same batch credits the price first) roll the whole confirmation back.
            operationIDs.append(try outcome.get().operation.id)
        }
        if let data = plan.dataPackAdded,
           let contact = try await NotificationContactRow.load(msisdns: [order.msisdn.e164], in: db)[order.msisdn.e164]?.contact {
            _ = try await OutboxStore.enqueue(
                contact.notifications(for: .dataPackAdded(bytes: data.bytes, validUntil: data.validUntil), eventKey: "order:\(order.id):data_pack_added"),
                now: now, in: db)
        }
        // Buckets a promotion granted are announced under the promotion's name in the subscriber's language.
        if !plan.bonusGranted.isEmpty,
           let contact = try await NotificationContactRow.load(msisdns: [order.msisdn.e164], in: db)[order.msisdn.e164]?.contact {
            let names = order.quote.bonusNames ?? [:]
            let name = names[contact.language.rawValue] ?? names["en"] ?? ""
            _ = try await OutboxStore.enqueue(
                contact.notifications(for: .bonusGranted(promotionName: name, grants: plan.bonusGranted), eventKey: "order:\(order.id):bonus_granted"),
                now: now, in: db)
        }
        try await notifyGuest(order, now: now, in: db)
        // A pack marked to renew is bought again from the balance at the end of each period (PackRenewalStore).
        if let renewal = plan.renewal {
            try await PackRenewalStore.register(order: order, lineID: line.id, productCode: renewal.productCode, validUntil: renewal.validUntil,
                                                now: now, in: db)
        }
        let balances = try await NotificationContactRow.monetaryBalances(lineIDs: [line.id], at: now, in: db)
        var lifecycle = OrderLifecycle(orderID: order.id, state: order.state)
        _ = try lifecycle.handle(.fulfilled)
        return order.with(state: lifecycle.state, updatedAt: now, failureReason: .some(nil), fulfilledAt: now, operationIDs: operationIDs,
                          balanceAfter: Money(micros: balances[line.id] ?? 0, currency: line.currency))
    }

    /// A guest's order: its success message to the contact the guest gave (``NotificationEvent/guestRecharge``), in
    /// the fulfilling transaction, keyed by the order so a retried fulfilment queues it once; then the contact is
    /// cleared, used for this order only.
    private static func notifyGuest(_ order: RechargeOrder, now: Date, in db: any SQLDatabase) async throws {
        guard let row = try await db.raw("""
            SELECT channel, recipient, language FROM guest_orders WHERE order_id = \(bind: order.id) AND recipient IS NOT NULL
            """).first(),
            let contact = GuestContact(channel: try row.string("channel"), recipient: try row.string("recipient"))
        else { return }
        let language = NotificationLanguage(tag: try row.string("language"))
        let event = NotificationEvent.guestRecharge(
            number: order.msisdn.e164, item: order.quote.names[language.rawValue] ?? order.quote.names["en"] ?? order.quote.productCode ?? "",
            price: order.quote.price, orderID: order.id)
        let notification = try OutgoingNotification(eventKey: "order:\(order.id):guest_recharge", channel: contact.channel, recipient: contact.recipient,
                                                    language: language, event: event)
        _ = try await OutboxStore.enqueue([notification], now: now, in: db)
        try await forgetGuestContact(order.id, in: db)
    }

    /// Clears a guest order's contact once its message is queued; the row stays, saying the order was a guest's. (An
    /// order that expires unpaid keeps it for a while, so a payment that arrives late still fulfils the order and tells
    /// the guest; `AccountStore.sweep` clears it 30 days after the order ended.)
    static func forgetGuestContact(_ id: String, in db: any SQLDatabase) async throws {
        try await db.raw("UPDATE guest_orders SET channel = NULL, recipient = NULL WHERE order_id = \(bind: id) AND recipient IS NOT NULL").run()
    }

    /// Whether the order was placed by a guest (the quick-recharge page): only those are shown through a guest's link.
    public func isGuestOrder(_ id: String) async throws -> Bool {
        try await database.read { db in
            try await db.raw("SELECT order_id FROM guest_orders WHERE order_id = \(bind: id)").first() != nil
        }
    }

    static func lockOrder(_ id: String, database: Database, in db: any SQLDatabase) async throws -> RechargeOrder {
        try await lock(id, database: database, in: db)
    }

    static func lineIDOfOrder(_ id: String, in db: any SQLDatabase) async throws -> Int64 { try await lineID(of: id, in: db) }

    static func saveOrder(_ order: RechargeOrder, in db: any SQLDatabase) async throws { try await save(order, in: db) }

    private static func lock(_ id: String, database: Database, in db: any SQLDatabase) async throws -> RechargeOrder {
        guard let row = try await db.raw("""
            SELECT \(unsafeRaw: OrderRow.columns) FROM orders WHERE id = \(bind: id)\(unsafeRaw: database.forUpdate)
            """).first()
        else { throw RechargeError.orderNotFound(id) }
        return try OrderRow.decode(row)
    }

    private static func loadByCreationKey(_ key: String, in db: any SQLDatabase) async throws -> (RechargeOrder, String)? {
        guard let row = try await db.raw("""
            SELECT \(unsafeRaw: OrderRow.columns), fingerprint FROM orders WHERE creation_key = \(bind: key)
            """).first()
        else { return nil }
        return (try OrderRow.decode(row), try row.string("fingerprint"))
    }

    private static func save(_ order: RechargeOrder, in db: any SQLDatabase) async throws {
        try await db.raw("""
            UPDATE orders SET state = \(bind: order.state.rawValue), provider_reference = \(bind: order.providerReference),
                failure_reason = \(bind: order.failureReason), operation_ids = \(bind: order.operationIDs.map(String.init).joined(separator: ",")),
                updated_at = \(bind: order.updatedAt.unixMicros), paid_at = \(bind: order.paidAt?.unixMicros),
                fulfilled_at = \(bind: order.fulfilledAt?.unixMicros), balance_after_micros = \(bind: order.balanceAfter?.micros),
                checkout_payload = \(bind: order.checkoutPayload)
            WHERE id = \(bind: order.id)
            """).run()
    }
}

/// How an order row is read.
enum OrderRow {
    static let columns = """
        id, msisdn, state, payment_method, quote, provider_reference, failure_reason, operation_ids, created_at, updated_at,
        expires_at, paid_at, fulfilled_at, balance_after_micros, checkout_payload
        """

    static func decode(_ row: any SQLRow) throws -> RechargeOrder {
        let quote = try LedgerStore.decodeResult(try row.string("quote"), as: OrderQuote.self)
        guard let state = OrderState(rawValue: try row.string("state")),
              let method = PaymentMethod(rawValue: try row.string("payment_method"))
        else { throw DatabaseError.invariantViolated("order \(try row.string("id")) has an unknown state or payment method") }
        let operations = try row.string("operation_ids").split(separator: ",").compactMap { Int64($0) }
        return RechargeOrder(
            id: try row.string("id"), msisdn: try MSISDN(try row.string("msisdn")), quote: quote, paymentMethod: method, state: state,
            providerReference: try row.optional("provider_reference"), failureReason: try row.optional("failure_reason"),
            operationIDs: operations, createdAt: Date(unixMicros: try row.int64("created_at")),
            updatedAt: Date(unixMicros: try row.int64("updated_at")), expiresAt: Date(unixMicros: try row.int64("expires_at")),
            paidAt: try row.optional("paid_at", as: Int64.self).map(Date.init(unixMicros:)),
            fulfilledAt: try row.optional("fulfilled_at", as: Int64.self).map(Date.init(unixMicros:)),
            balanceAfter: try row.optional("balance_after_micros", as: Int64.self).map { Money(micros: $0, currency: quote.credit?.currency ?? quote.price.currency) },
            checkoutPayload: try row.optional("checkout_payload"))
    }
}

extension RechargeOrder {
    /// A copy with the fields a transition changes.
    func with(state: OrderState, updatedAt: Date, providerReference: String? = nil, paidAt: Date? = nil, failureReason: String?? = .none,
              fulfilledAt: Date? = nil, operationIDs: [Int64]? = nil, balanceAfter: Money? = nil, checkoutPayload: String? = nil) -> RechargeOrder {
        RechargeOrder(
            id: id, msisdn: msisdn, quote: quote, paymentMethod: paymentMethod, state: state,
            providerReference: providerReference ?? self.providerReference,
            failureReason: failureReason ?? self.failureReason, operationIDs: operationIDs ?? self.operationIDs,
            createdAt: createdAt, updatedAt: updatedAt, expiresAt: expiresAt, paidAt: paidAt ?? self.paidAt,
            fulfilledAt: fulfilledAt ?? self.fulfilledAt, balanceAfter: balanceAfter ?? self.balanceAfter,
            checkoutPayload: checkoutPayload ?? self.checkoutPayload)
    }
}

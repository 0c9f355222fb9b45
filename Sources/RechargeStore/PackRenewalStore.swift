import Foundation
import RechargeCore
import SQLKit

/// Auto-renewal of packs the catalog marks `autoRenew`: bought again from the line's balance before the period
/// ends, at the catalog's current price in the line's currency, with a `pack_renewed` message; or, when it cannot
/// be (balance too low, pack no longer sold, line not active), a `pack_renewal_failed` message saying why, and
/// the pack ends with its period.
///
/// A renewal is registered in the transaction that fulfils the pack order (``register(order:lineID:productCode:validUntil:now:in:)``).
/// ``renewDue(now:leadTime:chunkSize:)`` (run by the reminder scan) renews those whose period ends within
/// `leadTime`: in one transaction per renewal, the price is debited (main balance first, as any purchase, to
/// pack revenue), one bucket per allowance is granted from the end of the current period (so the periods do not
/// overlap) for the pack's validity, and the renewal's `cycle` and `valid_until` move on by a conditional
/// update. Exactly once: the ledger keys are `renewal:<id>:<cycle>:buy` and `…:grant:<n>`, the update requires
/// the cycle it read, and on PostgreSQL each chunk is selected `FOR UPDATE OF r SKIP LOCKED`, so two scanners
/// never renew one period twice. A failed renewal is final for the pack (it does not retry every scan and bill a
/// subscriber who topped up later without being asked); the subscriber buys it again.
public struct PackRenewalStore: Sendable {
    public static let defaultLeadTime: TimeInterval = 86_400

    public let database: Database
    public let catalog: CatalogStore

    public init(database: Database, catalog: CatalogStore) {
        self.database = database
        self.catalog = catalog
    }

    public struct Renewal: Sendable, Equatable {
        public typealias State = PackRenewalState
        public let id: String
        public let orderID: String
        public let productCode: String
        public let name: String
        /// Renewals made so far.
        public let cycle: Int
        /// The end of the current period.
        public let validUntil: Date
        public let state: State
        public let failure: PackRenewalFailure?
        /// A refund of the pack's order exists (not failed): the renewal is off for good.
        public let refunded: Bool
    }

    /// What one pass did.
    public struct Pass: Sendable, Equatable {
        public var renewed = 0
        public var failed = 0

        public init(renewed: Int = 0, failed: Int = 0) {
            self.renewed = renewed
            self.failed = failed
        }
    }

    /// In a refunding transaction: a pack given back does not renew.
    static func cancel(orderID: String, now: Date, in db: any SQLDatabase) async throws {
        try await db.raw("""
            UPDATE pack_renewals SET state = 'cancelled', updated_at = \(bind: now.unixMicros) WHERE order_id = \(bind: orderID) AND state = 'active'
            """).run()
    }

    /// In the fulfilling transaction of a pack order whose quote says `autoRenew`.
    static func register(order: RechargeOrder, lineID: Int64, productCode: String, validUntil: Date, now: Date, in db: any SQLDatabase) async throws {
        var generator = SystemRandomNumberGenerator()
        let id = "rn_" + RechargeOrder.newID(using: &generator).dropFirst(4)
        try await db.raw("""
            INSERT INTO pack_renewals (id, line_id, product_code, order_id, name, cycle, valid_until, state, failure, created_at, updated_at)
            VALUES (\(bind: id), \(bind: lineID), \(bind: productCode), \(bind: order.id), \(bind: order.quote.names["en"] ?? productCode), 0,
                    \(bind: validUntil.unixMicros), 'active', NULL, \(bind: now.unixMicros), \(bind: now.unixMicros))
            ON CONFLICT (order_id) DO NOTHING
            """).run()
    }

    /// A line's renewals, newest first.
    public func renewals(msisdn: MSISDN) async throws -> [Renewal] {
        try await database.read { db in
            try await db.raw("""
                SELECT \(unsafeRaw: Self.columns), \(unsafeRaw: Self.refundedColumn) FROM pack_renewals r JOIN lines l ON l.id = r.line_id
                WHERE l.msisdn = \(bind: msisdn.e164) ORDER BY r.created_at DESC, r.id
                """).all().map(Self.decode)
        }
    }

    /// The subscriber turns renewal off: the pack ends with its current period. Turning off one already off answers
    /// it as it is; one that failed (or does not exist) is `invalid-request`, as this operation always answered.
    public func cancel(_ id: String, now: Date) async throws -> Renewal {
        do {
            return try await setAutoRenew(id, on: false, now: now)
        } catch is PackRenewalSwitch.Refusal {
            throw RechargeError.invalidRequest("Renewal \(id) does not exist or has already failed.")
        }
    }

    /// The auto-renew switch: on or off, as ``PackRenewalSwitch`` decides from the renewal read under its row lock
    /// (PostgreSQL `FOR NO KEY UPDATE`; SQLite's one writer), written by an update conditional on the state and cycle
    /// read, so a renewal pass or another switch in between cannot be overwritten. Refusals are
    /// ``PackRenewalSwitch/Refusal``; an unknown id is `invalid-request`.
    public func setAutoRenew(_ id: String, on: Bool, now: Date) async throws -> Renewal {
        let lock = database.forUpdate.isEmpty ? "" : "\(database.forUpdate) OF r"
        return try await database.transaction { db in
            guard let row = try await db.raw("""
                SELECT \(unsafeRaw: Self.columns), \(unsafeRaw: Self.refundedColumn) FROM pack_renewals r WHERE r.id = \(bind: id)\(unsafeRaw: lock)
                """).first()
            else { throw RechargeError.invalidRequest("Renewal \(id) does not exist or has already failed.") }
            let renewal = try Self.decode(row)
            let next = try (on ? PackRenewalSwitch.turnOn(state: renewal.state, validUntil: renewal.validUntil, refunded: renewal.refunded, now: now)
                               : PackRenewalSwitch.turnOff(state: renewal.state)).get()
            guard next != renewal.state else { return renewal }
            guard try await db.raw("""
                UPDATE pack_renewals SET state = \(bind: next.rawValue), updated_at = \(bind: now.unixMicros)
                WHERE id = \(bind: id) AND state = \(bind: renewal.state.rawValue) AND cycle = \(bind: renewal.cycle) RETURNING id
                """).first() != nil
            else { throw DatabaseError.invariantViolated("renewal \(id) changed under its lock") }
            return Renewal(id: renewal.id, orderID: renewal.orderID, productCode: renewal.productCode, name: renewal.name, cycle: renewal.cycle,
                           validUntil: renewal.validUntil, state: next, failure: renewal.failure, refunded: renewal.refunded)
        }
    }

    /// Renews (or fails, with a message) every active renewal whose period ends within `leadTime` of `now`.
    public func renewDue(now: Date, leadTime: TimeInterval = Self.defaultLeadTime, chunkSize: Int = 100) async throws -> Pass {
        guard (1...1000).contains(chunkSize) else { throw OutboxError.invalidLimit(chunkSize) }
        let catalog = try await self.catalog.catalog()
        let database = self.database
        var pass = Pass()
        var after = ""
        while true {
            let start = after
            let (chunk, last) = try await Ledger.transaction(database) { db in
                try await Self.renewChunk(after: start, now: now, leadTime: leadTime, limit: chunkSize, catalog: catalog, database: database, in: db)
            }
            guard let last else { break }
            pass.renewed += chunk.renewed
            pass.failed += chunk.failed
            after = last
        }
        return pass
    }

    static let columns = "r.id, r.order_id, r.product_code, r.name, r.cycle, r.valid_until, r.state, r.failure"
    /// Whether the renewal's order has a refund that did not fail (a pack given back never renews again).
    static let refundedColumn = "CASE WHEN EXISTS (SELECT 1 FROM refunds f WHERE f.order_id = r.order_id AND f.state <> 'failed') THEN 1 ELSE 0 END AS refunded"

    static func decode(_ row: any SQLRow) throws -> Renewal {
        guard let state = Renewal.State(rawValue: try row.string("state")) else {
            throw DatabaseError.invariantViolated("renewal \(try row.string("id")) has an unknown state")
        }
        return Renewal(id: try row.string("id"), orderID: try row.string("order_id"), productCode: try row.string("product_code"),
                       name: try row.string("name"), cycle: try row.decode(column: "cycle", as: Int.self), validUntil: try row.date("valid_until"),
                       state: state, failure: try row.optional("failure", as: String.self).flatMap(PackRenewalFailure.init(rawValue:)),
                       refunded: (try row.optional("refunded", as: Int.self) ?? 0) == 1)
    }

    private static func renewChunk(after: String, now: Date, leadTime: TimeInterval, limit: Int, catalog: Catalog, database: Database,
                                   in db: any SQLDatabase) async throws -> (Pass, String?) {
        let lock = database.dialect == .postgres ? " FOR UPDATE OF r SKIP LOCKED" : ""
        let rows = try await db.raw("""
            SELECT \(unsafeRaw: columns), l.msisdn FROM pack_renewals r JOIN lines l ON l.id = r.line_id
            WHERE r.state = 'active' AND r.valid_until <= \(bind: now.addingTimeInterval(leadTime).unixMicros) AND r.id > \(bind: after)
            ORDER BY r.id LIMIT \(bind: limit)\(unsafeRaw: lock)
            """).all()
        guard let lastRow = rows.last else { return (Pass(), nil) }
        var pass = Pass()
        for row in rows {
            let renewal = try decode(row)
            let msisdn = try MSISDN(try row.string("msisdn"))
            if try await renew(renewal, msisdn: msisdn, now: now, catalog: catalog, database: database, in: db) { pass.renewed += 1 } else { pass.failed += 1 }
        }
        return (pass, try lastRow.string("id"))
    }

    /// One period: true when renewed, false when it failed (and said why).
    private static func renew(_ renewal: Renewal, msisdn: MSISDN, now: Date, catalog: Catalog, database: Database, in db: any SQLDatabase) async throws -> Bool {
        let line = try await LedgerStore.loadLine(db, msisdn, lock: database.forUpdate)
        let product = catalog.product(renewal.productCode)
        let cycle = renewal.cycle + 1
        // The new period starts where the current one ends (or now, if the scan comes late).
        let start = max(renewal.validUntil, now)
        var failure: PackRenewalFailure?
        var price = Money(micros: 0, currency: line.currency)
        var operations: [LedgerRequest] = []
        var newEnd = renewal.validUntil
        if let product, product.active, product.autoRenew, product.kind == .pack, let days = product.validityDays,
           let listed = product.price(in: line.currency) {
            price = listed
            newEnd = start.addingTimeInterval(TimeInterval(days) * 86_400)
            if !line.status.acceptsDebits {
                failure = .lineNotActive
            } else {
                let revenue = try await LedgerStore.upsertAccount(
                    db, code: LedgerAccountCode.packRevenue(unit: line.currency.code), kind: .revenue, unit: line.currency.code, now: now)
                operations.append(try LedgerRequest(
                    .debit(try DebitCommand(msisdn: msisdn, kind: .monetary, amount: price.micros, currency: line.currency, channel: .system,
                                            reference: renewal.id)),
                    purpose: .renewalPurchase(renewalID: renewal.id, cycle: cycle), now: now, counterparty: revenue))
                for (index, allowance) in product.allowances.enumerated() {
                    let unit = allowance.kind.unit(currency: line.currency)
                    let source = try await LedgerStore.upsertAccount(db, code: LedgerAccountCode.allowance(unit: unit), kind: .allowance, unit: unit, now: now)
                    let grant = try BucketGrant(kind: allowance.kind, amount: allowance.amount, name: renewal.name, validFrom: start, validUntil: newEnd,
                                                priority: BucketGrant.defaultPriority, coverage: product.coverage.map { Set($0.countries) })
                    operations.append(try LedgerRequest(
                        .topUp(try TopUpCommand(msisdn: msisdn, value: .bucket(grant, currency: line.currency), channel: .system, reference: renewal.id)),
                        purpose: .renewalGrant(renewalID: renewal.id, cycle: cycle, number: index + 1), now: now, counterparty: source))
                }
            }
        } else {
            failure = .noLongerSold
        }
        if failure == nil, let purchase = operations.first {
            // The price first, alone: only when it is taken are the allowances granted (a refusal is kept as the
            // ledger's rejected operation under this period's key, which is never used again).
            do {
                for outcome in try await Ledger.apply([purchase], in: db, database: database) { _ = try outcome.get() }
                if operations.count > 1 {
                    for outcome in try await Ledger.apply(Array(operations.dropFirst()), in: db, database: database) { _ = try outcome.get() }
                }
            } catch RechargeError.insufficientBalance {
                failure = .insufficientBalance
            } catch RechargeError.lineNotActive {
                failure = .lineNotActive
            }
        }
        let balance = Money(micros: try await NotificationContactRow.monetaryBalances(lineIDs: [line.id], at: now, in: db)[line.id] ?? 0,
                            currency: line.currency)
        let updated: Bool
        if let failure {
            updated = try await db.raw("""
                UPDATE pack_renewals SET state = 'failed', failure = \(bind: failure.rawValue), updated_at = \(bind: now.unixMicros)
                WHERE id = \(bind: renewal.id) AND cycle = \(bind: renewal.cycle) AND state = 'active' RETURNING id
                """).first() != nil
        } else {
            updated = try await db.raw("""
                UPDATE pack_renewals SET cycle = \(bind: cycle), valid_until = \(bind: newEnd.unixMicros), updated_at = \(bind: now.unixMicros)
                WHERE id = \(bind: renewal.id) AND cycle = \(bind: renewal.cycle) AND state = 'active' RETURNING id
                """).first() != nil
        }
        guard updated else { throw DatabaseError.invariantViolated("renewal \(renewal.id) changed under its lock") }
        if let contact = try await NotificationContactRow.load(lineIDs: [line.id], in: db)[line.id]?.contact {
            // The pack's name in the subscriber's language (the catalog's; the English one it was bought under otherwise).
            let name = catalog.product(renewal.productCode)?.name(language: contact.language.rawValue) ?? renewal.name
            let event: NotificationEvent = failure.map {
                .packRenewalFailed(packName: name, price: price, balance: balance, validUntil: renewal.validUntil, reason: $0)
            } ?? .packRenewed(packName: name, price: price, balance: balance, validUntil: newEnd)
            _ = try await OutboxStore.enqueue(contact.notifications(for: event, eventKey: "renewal:\(renewal.id):\(cycle):\(event.name.rawValue)"),
                                              now: now, in: db)
        }
        return failure == nil
    }
}

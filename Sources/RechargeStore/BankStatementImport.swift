import Foundation
import RechargeBanking
import RechargeCore
import SQLKit

/// Applies a bank statement: every credit whose RF payment reference names a bank-transfer order and
/// whose amount equals the order's price pays that order (as a confirmation with the event id
/// `bank:<account>:<entry reference>`, so importing the same statement again, or an overlapping one, pays
/// nothing twice); every other credit goes to the review list, once per entry.
public struct BankStatementImport: Sendable {
    let orders: OrderStore

    public init(orders: OrderStore) {
        self.orders = orders
    }

    public struct Summary: Sendable, Equatable {
        public var credits = 0
        public var paid = 0
        /// Matched entries whose orders were already paid by an earlier import.
        public var alreadyApplied = 0
        public var toReview = 0
        public var debitsIgnored = 0

        public init() {}

        mutating func add(_ other: Summary) {
            credits += other.credits
            paid += other.paid
            alreadyApplied += other.alreadyApplied
            toReview += other.toReview
            debitsIgnored += other.debitsIgnored
        }
    }

    /// Several statements (a camt.053 file may hold one per account), one after the other; their summaries added.
    public func apply(_ statements: [BankStatement], now: Date) async throws -> Summary {
        var total = Summary()
        for statement in statements { total.add(try await apply(statement, now: now)) }
        return total
    }

    public func apply(_ statement: BankStatement, now: Date) async throws -> Summary {
        let account: String
        switch statement.account {
        case .iban(let iban): account = iban
        case .other(let id): account = id
        }
        var summary = Summary()
        let credits = statement.entries.filter { $0.direction == .credit && !$0.isReversal }
        summary.debitsIgnored = statement.entries.count - credits.count
        // The matcher is synchronous: resolve every candidate reference first, then match against the answers.
        let references = Set(credits.flatMap(StatementMatcher.references(in:)))
        let targets = try await orders.bankTransferTargets(Array(references))
        for match in StatementMatcher.classify(credits, lookup: { reference in targets[reference.electronic] }) {
            summary.credits += 1
            let entry = match.entry
            switch match.outcome {
            case .matched(let orderID, let amount):
                let confirmation = PaymentConfirmation(
                    provider: .bankTransfer, eventID: "bank:\(account):\(entry.entryReference)", orderID: orderID, outcome: .succeeded,
                    amount: amount, providerReference: nil, failureReason: nil)
                let outcome = try await orders.apply(confirmation, now: now)
                if outcome.duplicate { summary.alreadyApplied += 1 } else { summary.paid += 1 }
            case .amountMismatch(let orderID, _, _, _):
                if try await orders.addToBankReview(account: account, entry: entry, outcome: "amount_mismatch", orderID: orderID, now: now) { summary.toReview += 1 }
            case .unknownReference:
                if try await orders.addToBankReview(account: account, entry: entry, outcome: "unknown_reference", orderID: nil, now: now) { summary.toReview += 1 }
            case .noReference:
                if try await orders.addToBankReview(account: account, entry: entry, outcome: "no_reference", orderID: nil, now: now) { summary.toReview += 1 }
            }
        }
        return summary
    }
}

/// A statement credit waiting for an operator.
public struct BankReviewItem: Sendable, Equatable {
    public let id: Int64
    public let account: String
    public let entryReference: String
    /// `amount_mismatch`, `unknown_reference` or `no_reference`.
    public let outcome: String
    public let orderID: String?
    public let amount: Money
    public let bookingDate: String
    public let debtor: String?
    public let remittance: String
}

extension OrderStore {
    /// Orders awaiting a bank transfer, by the electronic form of their payment reference.
    func bankTransferTargets(_ references: [PaymentReference]) async throws -> [String: MatchTarget] {
        guard !references.isEmpty else { return [:] }
        return try await database.read { db in
            var targets: [String: MatchTarget] = [:]
            for row in try await db.raw("""
                SELECT id, provider_reference, quote FROM orders
                WHERE payment_method = 'bank_transfer' AND provider_reference IN (\(binds: references.map(\.electronic)))
                """).all() {
                let quote = try LedgerStore.decodeResult(try row.string("quote"), as: OrderQuote.self)
                targets[try row.string("provider_reference")] = MatchTarget(orderID: try row.string("id"), expected: quote.price)
            }
            return targets
        }
    }

    /// Adds an entry to the review list; false if it is there already (the statement was imported before).
    func addToBankReview(account: String, entry: StatementEntry, outcome: String, orderID: String?, now: Date) async throws -> Bool {
        let remittance = (entry.remittance.creditorReference.map { [$0] } ?? []) + entry.remittance.unstructured
        return try await database.transaction { db in
            try await db.raw("""
                INSERT INTO bank_review (account, entry_reference, outcome, order_id, amount_micros, currency, booking_date, debtor, remittance,
                                         state, created_at)
                VALUES (\(bind: account), \(bind: entry.entryReference), \(bind: outcome), \(bind: orderID), \(bind: entry.amount.micros),
                        \(bind: entry.amount.currency.code), \(bind: entry.bookingDate.description), \(bind: entry.debtorName),
                        \(bind: remittance.joined(separator: " / ")), 'open', \(bind: now.unixMicros))
                ON CONFLICT (account, entry_reference) DO NOTHING
                RETURNING id
                """).first() != nil
        }
    }

    /// Open review items, oldest first.
    public func bankReview(limit: Int = 200) async throws -> [BankReviewItem] {
        try await database.read { db in
            try await db.raw("""
                SELECT id, account, entry_reference, outcome, order_id, amount_micros, currency, booking_date, debtor, remittance
                FROM bank_review WHERE state = 'open' ORDER BY id LIMIT \(bind: max(1, min(limit, 1000)))
                """).all().map { row in
                BankReviewItem(
                    id: try row.int64("id"), account: try row.string("account"), entryReference: try row.string("entry_reference"),
                    outcome: try row.string("outcome"), orderID: try row.optional("order_id"),
                    amount: Money(micros: try row.int64("amount_micros"), currency: try Currency(code: try row.string("currency"))),
                    bookingDate: try row.string("booking_date"), debtor: try row.optional("debtor"), remittance: try row.string("remittance"))
            }
        }
    }
}

import Foundation
import RechargeCore
import RechargeOrders
import RechargeStore
import RechargeTestSupport
import Testing

/// The order service end to end on a real (SQLite) store: a refund in its two steps around the provider.
@Suite("Order service")
struct OrderServiceTests {
    static let now = TestDatabase.epoch
    static let alice = try! MSISDN("+14155550100")

    /// A provider stand-in that records what it was asked, and can refuse.
    final class Refunder: OrderRefunder, @unchecked Sendable {
        let lock = NSLock()
        var asked: [String] = []
        let fails: Bool
        init(fails: Bool = false) { self.fails = fails }
        func checkRefundable(_ order: RechargeOrder) throws {}
        func refund(_ refund: OrderRefund, order: RechargeOrder) async throws -> String {
            lock.withLock { asked.append(refund.id) }
            if fails { throw RechargeError.paymentMethodUnavailable("stand-in") }
            return "re_" + refund.id
        }
    }

    static func paidOrder(_ service: OrderService, ledger: LedgerStore, catalog: CatalogStore) async throws -> RechargeOrder {
        _ = try await catalog.importCatalog(try Catalog(CatalogDefinition(customTopUp: ["USD": .init(min: "5", max: "500")], products: [])), now: now)
        _ = try await ledger.openLine(try OpenLineCommand(msisdn: alice, iccid: nil, type: .prepaid, currency: .usd, creditLimit: nil, subscriber: nil), now: now)
        let order = try await service.create(msisdn: alice, item: .amount(try Money(decimal: "20", currency: .usd)), paymentMethod: .sandbox,
                                             promotionCode: nil, payCurrency: nil, key: try IdempotencyKey("o-1"), lifetime: 600,
                                             localReference: { "sbx_" + $0.dropFirst(4) }).order
        #expect(order.state == .awaitingPayment)
        let outcome = try await service.confirm(PaymentConfirmation(provider: .sandbox, eventID: "evt_1", orderID: order.id, outcome: .succeeded,
                                                                    amount: order.quote.price, providerReference: nil, failureReason: nil))
        #expect(outcome.fulfilledNow)
        return outcome.order
    }

    @Test func refundAsksTheProviderOnce() async throws {
        try await TestDatabase.with(.sqlite) { database in
            let catalog = CatalogStore(database: database)
            let service = OrderService(store: OrderStore(database: database, catalog: catalog), clock: { Self.now })
            let order = try await Self.paidOrder(service, ledger: LedgerStore(database: database), catalog: catalog)
            let refunder = Refunder()
            let first = try await service.refund(orderID: order.id, amount: try Money(decimal: "5", currency: .usd), reason: "asked",
                                                 key: try IdempotencyKey("rf-1"), through: refunder)
            #expect(first.refund.state == .succeeded && first.refund.providerReference == "re_\(first.refund.id)" && !first.replayed)
            let again = try await service.refund(orderID: order.id, amount: try Money(decimal: "5", currency: .usd), reason: "asked",
                                                 key: try IdempotencyKey("rf-1"), through: refunder)
            #expect(again.replayed && again.refund.id == first.refund.id && refunder.asked == [first.refund.id])
            #expect(try await service.order(order.id).state == .partiallyRefunded)
        }
    }

    @Test func aFailingProviderLeavesTheRefundPending() async throws {
        try await TestDatabase.with(.sqlite) { database in
            let catalog = CatalogStore(database: database)
            let service = OrderService(store: OrderStore(database: database, catalog: catalog), clock: { Self.now })
            let order = try await Self.paidOrder(service, ledger: LedgerStore(database: database), catalog: catalog)
            await #expect(throws: RechargeError.self) {
                _ = try await service.refund(orderID: order.id, amount: nil, reason: "asked", key: try IdempotencyKey("rf-1"), through: Refunder(fails: true))
            }
            #expect(try await service.store.refunds(orderID: order.id).map(\.state) == [.pending])
            // The same key asks the provider again and completes it.
            let retried = try await service.refund(orderID: order.id, amount: nil, reason: "asked", key: try IdempotencyKey("rf-1"), through: Refunder())
            #expect(retried.replayed && retried.refund.state == .succeeded)
        }
    }
}

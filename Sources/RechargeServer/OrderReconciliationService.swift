import Foundation
import Logging
import RechargeCore
import RechargeOrders
import RechargePayments
import RechargeStore
import ServiceLifecycle

/// The stuck-payment job: expires orders whose payment window closed and fulfils orders left `paid` (their
/// line could not take the value when the money came). Safe on several nodes at once: expiry is one
/// conditional UPDATE, fulfilment locks each order and its ledger keys make a second attempt a no-op.
public struct OrderReconciliationService: Service {
    let orders: OrderStore
    let service: OrderService
    let payments: PaymentProviders
    let interval: Duration
    let clock: @Sendable () -> Date
    let logger: Logger

    public init(orders: OrderStore, payments: PaymentProviders = PaymentProviders(sandbox: nil), interval: Duration = .seconds(30),
                clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger) {
        self.orders = orders
        self.service = OrderService(store: orders, clock: clock)
        self.payments = payments
        self.interval = interval
        self.clock = clock
        self.logger = logger
    }

    /// Runs a pass every `interval` until graceful shutdown; a pass in progress finishes first.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await Task { await self.runOnce() }.value
                try? await Task.sleep(for: self.interval)
            }
        }
    }

    /// One pass; errors are logged and the next pass tries again.
    public func runOnce() async {
        let now = clock()
        do {
            // Ask the provider about orders waiting more than a minute (their notification may be lost), before expiry.
            var queried = 0
            let methods = payments.registry.gateways.filter { $0.isOffered && $0.capabilities.contains(.statusQuery) }.map(\.method)
            for method in PaymentMethod.allCases where methods.contains(method) {
                for order in try await orders.awaitingPayment(method: method, createdBefore: now.addingTimeInterval(-60), limit: 100) {
                    guard let gateway = payments.registry.gateway(for: order) else { continue }
                    do {
                        if let confirmation = try await gateway.query(order) {
                            _ = try await service.confirm(confirmation)
                            queried += 1
                        }
                    } catch {
                        logger.warning("Status query failed", metadata: ["provider": "\(gateway.name)", "order": "\(order.id)", "error": "\(error)"])
                    }
                }
            }
            if queried > 0 { logger.info("Orders confirmed by status query", metadata: ["count": "\(queried)"]) }
            let expired = try await service.expireOverdue()
            let fulfilled = try await service.fulfilPaidOrders()
            if expired + fulfilled > 0 {
                logger.info("Order reconciliation", metadata: ["expired": "\(expired)", "fulfilled": "\(fulfilled)"])
            }
        } catch {
            logger.warning("Order reconciliation failed; retrying next pass", metadata: ["error": "\(error)"])
        }
    }
}

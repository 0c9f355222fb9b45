import Foundation
import Logging
import RechargeStore
import ServiceLifecycle

/// The stuck-payment job: expires orders whose payment window closed and fulfils orders left `paid` (their
/// line could not take the value when the money came). Safe on several nodes at once: expiry is one
/// conditional UPDATE, fulfilment locks each order and its ledger keys make a second attempt a no-op.
public struct OrderReconciliationService: Service {
    let orders: OrderStore
    let interval: Duration
    let clock: @Sendable () -> Date
    let logger: Logger

    public init(orders: OrderStore, interval: Duration = .seconds(30), clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger) {
        self.orders = orders
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
            let expired = try await orders.expireOverdue(now: now)
            let fulfilled = try await orders.fulfilPaidOrders(now: now)
            if expired + fulfilled > 0 {
                logger.info("Order reconciliation", metadata: ["expired": "\(expired)", "fulfilled": "\(fulfilled)"])
            }
        } catch {
            logger.warning("Order reconciliation failed; retrying next pass", metadata: ["error": "\(error)"])
        }
    }
}

import Foundation
import RechargeCore
import RechargeStore

/// The order capability: what the HTTP layer, the portal and the reconciliation job call to place, confirm,
/// fulfil, expire, refund and dispute recharge orders. Every transition goes through ``OrderLifecycle``; what a
/// fulfilment or a refund does to the ledger is a pure plan (``FulfilmentPlan``, ``RefundPlan``) that
/// ``OrderStore`` executes in one transaction. Time comes from the injected clock.
///
/// Nothing here speaks HTTP or a provider's protocol: the provider side of a refund is an ``OrderRefunder``.
public struct OrderService: Sendable {
    public let store: OrderStore
    private let clock: @Sendable () -> Date

    public init(store: OrderStore, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.clock = clock
    }

    public func order(_ id: String) async throws -> RechargeOrder {
        try await store.order(id)
    }

    // MARK: Placement

    /// Creates an order with its quote fixed now (`Idempotency-Key` semantics). `localReference`, when given, starts
    /// checkout in the creating transaction with the reference it makes (the sandbox's, a bank transfer's RF reference).
    /// `payer`: a guest's order (the quick-recharge page) is recorded as one, with the contact its success message goes to.
    public func create(msisdn: MSISDN, item: OrderStore.Item, paymentMethod: PaymentMethod, promotionCode: String?, payCurrency: Currency?,
                       payer: OrderPayer = .subscriber, key: IdempotencyKey, lifetime: TimeInterval,
                       localReference: (@Sendable (String) -> String?)?) async throws -> OrderStore.Creation {
        try await store.create(msisdn: msisdn, item: item, paymentMethod: paymentMethod, promotionCode: promotionCode, payCurrency: payCurrency,
                               payer: payer, key: key, now: clock(), lifetime: lifetime, checkout: localReference)
    }

    /// The provider accepted the order (its checkout page, QR code or client secret exists).
    public func startCheckout(_ id: String, providerReference: String?, checkoutPayload: String? = nil) async throws -> RechargeOrder {
        try await store.startCheckout(id, providerReference: providerReference, checkoutPayload: checkoutPayload, now: clock())
    }

    /// The subscriber or an agent gives up on an unpaid order.
    public func cancel(_ id: String) async throws -> RechargeOrder {
        try await store.cancel(id, now: clock())
    }

    // MARK: Confirmation, fulfilment, expiry

    /// A verified payment confirmation (provider notification or server-side query): pays and fulfils once.
    public func confirm(_ confirmation: PaymentConfirmation) async throws -> OrderStore.PaymentOutcome {
        try await store.apply(confirmation, now: clock())
    }

    /// Fulfils orders left `paid` because their line could not take the value when the money came.
    public func fulfilPaidOrders() async throws -> Int {
        try await store.fulfilPaidOrders(now: clock())
    }

    /// Expires orders whose payment window closed with nothing confirmed.
    public func expireOverdue() async throws -> Int {
        try await store.expireOverdue(now: clock())
    }

    // MARK: Refunds and disputes

    /// A refund and whether an earlier request with the same key made it.
    public struct RefundResult: Sendable, Equatable {
        public let refund: OrderRefund
        public let replayed: Bool
    }

    /// Refunds an order in two steps around the provider: the amount comes off the line and the order in one
    /// transaction (``RefundPlan``), then the provider is asked, outside any transaction, and the refund is marked
    /// done. Nothing is taken off the line for money the refunder cannot send back; a provider that fails leaves
    /// the refund pending, and a retry with the same key asks it again.
    public func refund(orderID: String, amount: Money?, reason: String, key: IdempotencyKey,
                       through refunder: some OrderRefunder) async throws -> RefundResult {
        try refunder.checkRefundable(try await store.order(orderID))
        let started = try await store.startRefund(orderID: orderID, amount: amount, reason: reason, key: key, now: clock())
        var refund = started.refund
        if refund.state == .pending {
            let reference = try await refunder.refund(refund, order: started.order)
            refund = try await store.completeRefund(refund.id, providerReference: reference, now: clock())
        }
        return RefundResult(refund: refund, replayed: started.replayed)
    }

    /// A verified dispute (chargeback) event from the provider.
    public func dispute(provider: PaymentMethod, eventID: String, disputeID: String, providerReference: String,
                        event: OrderStore.DisputeEvent) async throws -> OrderStore.DisputeOutcome {
        try await store.applyDispute(provider: provider, eventID: eventID, disputeID: disputeID, providerReference: providerReference,
                                     event: event, now: clock())
    }
}

/// The provider side of a refund: whether the order's money can go back through a provider here, and sending it.
public protocol OrderRefunder: Sendable {
    /// Throws, before anything changes, when the order's money cannot go back this way.
    func checkRefundable(_ order: RechargeOrder) throws
    /// Sends the refund back through the provider the order was paid with, keyed by the refund's id; returns the
    /// provider's refund id.
    func refund(_ refund: OrderRefund, order: RechargeOrder) async throws -> String
}

import Foundation
import RechargeCore
import RechargeOrders
import RechargePayments
import RechargeStore

/// Creates a recharge order and starts its checkout at the provider: what the API's
/// `POST /v1/lines/{msisdn}/orders` and the portal's Pay button share. A replayed key gets the same order and
/// the same checkout back. Which provider, and how its checkout starts, is the ``PaymentGateway`` adapter's.
struct OrderPlacement: Sendable {
    let orders: OrderService
    let payments: PaymentProviders

    struct Placed: Sendable {
        let order: RechargeOrder
        let checkout: CheckoutOutput?
        let replayed: Bool
    }

    /// `stripeSession`: the provider's hosted page where it also has an embedded form (a Stripe Checkout Session
    /// instead of a PaymentIntent); `chinese`: the payer reads Chinese (the providers' pages are asked for in it); `payer`: a
    /// guest on the quick-recharge page, or the line's subscriber.
    func place(msisdn: MSISDN, item: OrderStore.Item, method: PaymentMethod, promotionCode: String?, payCurrency: Currency?,
               payer: OrderPayer = .subscriber, stripeSession: Bool, key: IdempotencyKey, chinese: Bool) async throws -> Placed {
        guard payments.offers(method), let starting = payments.registry.gateway(for: method, hostedPage: stripeSession) else {
            throw RechargeError.paymentMethodUnavailable(method.rawValue)
        }
        // A local reference (the sandbox's, a bank transfer's) is made in the creating transaction; a replayed create
        // finds it started and gets the same answer.
        var local: (@Sendable (String) -> String?)?
        if starting.capabilities.contains(.localReference) { local = { id in starting.localReference(forOrder: id) } }
        let creation = try await orders.create(msisdn: msisdn, item: item, paymentMethod: method, promotionCode: promotionCode,
                                               payCurrency: payCurrency ?? payments.defaultCurrency(method), payer: payer, key: key, lifetime: starting.paymentWindow, localReference: local)
        var order = creation.order
        // A replayed create continues with the order's own adapter (a Stripe order stays on its Checkout Session).
        let gateway = order.state == .created ? starting : (payments.registry.gateway(for: order) ?? starting)
        var checkout = order.state == .awaitingPayment ? gateway.checkout(for: order).map(CheckoutOutput.init) : nil
        // A replayed create of an order already paid (or closed) answers with the order as it is, asking no provider.
        let payable = order.state == .created || order.state == .awaitingPayment
        if payable, order.state == .created || checkout == nil {
            let started = try await start(order, at: gateway, chinese: chinese)
            if order.state == .created {
                order = try await orders.startCheckout(order.id, providerReference: Self.reference(of: started, order: order),
                                                       checkoutPayload: Self.payload(of: started))
            }
            checkout = CheckoutOutput(started)
        }
        return Placed(order: order, checkout: checkout, replayed: creation.replayed)
    }

    /// The provider's checkout, made after the order is committed (never a network call inside a transaction) and
    /// keyed by the order id, so a retried create (or a crash in between) gets the same one.
    private func start(_ order: RechargeOrder, at gateway: any PaymentGateway, chinese: Bool) async throws -> PaymentCheckout {
        let price = order.quote.price
        if let currencies = gateway.currencies, !gateway.takes(price.currency) {
            throw RechargeError.invalidRequest(
                "\(gateway.method.rawValue) takes payment in \(currencies.sorted().joined(separator: ", ")); this order is priced in \(price.currency.code).")
        }
        do {
            return try await gateway.startCheckout(order, chinese: chinese)
        } catch let error as RechargeError {
            throw error
        } catch {
            throw Problem.providerUnavailable(
                "\(gateway.displayName) could not start the payment of order \(order.id): \(error). Retry with the same Idempotency-Key.")
        }
    }

    /// What is kept with the order to show the payer again without asking the provider: a wallet's QR content.
    /// A redirect or client secret is not kept (the provider's page and Stripe.js are asked again), and a bank
    /// transfer's details are the operator's own, rebuilt from the reference.
    private static func payload(of checkout: PaymentCheckout) -> String? {
        switch checkout {
        case .qrCode(let payload, _): payload
        case .redirect, .clientSecret, .bankTransfer: nil
        }
    }

    private static func reference(of checkout: PaymentCheckout, order: RechargeOrder) -> String? {
        switch checkout {
        case .redirect(_, let reference): reference
        case .clientSecret(_, let reference), .qrCode(_, let reference), .bankTransfer(let reference, _, _, _): reference
        }
    }
}

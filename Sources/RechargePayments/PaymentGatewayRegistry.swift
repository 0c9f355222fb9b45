import Foundation
import RechargeCore

/// The payment adapters this server is configured with, each registered once; the order flow asks it for the
/// adapter of a method (and, for Stripe, of the checkout style) instead of switching on the method itself.
public struct PaymentGatewayRegistry: Sendable {
    public let gateways: [any PaymentGateway]

    public init(_ gateways: [any PaymentGateway]) {
        self.gateways = gateways
    }

    /// Every provider this build knows, from the configured pieces (nil: not configured). One line per adapter.
    public init(sandbox: SandboxGateway?, stripe: StripeGateway?, bankTransfer: BankTransferGateway?, alipay: AlipayGateway?,
                wechatPay: WeChatPayGateway?, paypal: PayPalGateway?) {
        var gateways: [any PaymentGateway] = []
        if let sandbox { gateways.append(sandbox) }
        if let stripe { gateways.append(StripePaymentIntentsGateway(stripe)) }
        if let stripe { gateways.append(StripeCheckoutGateway(stripe)) }
        if let paypal { gateways.append(paypal) }
        if let alipay { gateways.append(alipay) }
        if let wechatPay { gateways.append(wechatPay) }
        if let bankTransfer { gateways.append(bankTransfer) }
        self.init(gateways)
    }

    /// The adapter new orders of `method` start with; `hostedPage`: the provider's own page is wanted where it
    /// has one besides an embedded form (Stripe Checkout rather than a PaymentIntent).
    public func gateway(for method: PaymentMethod, hostedPage: Bool = false) -> (any PaymentGateway)? {
        let candidates = gateways.filter { $0.method == method }
        return candidates.first { $0.capabilities.contains(.redirect) == hostedPage } ?? candidates.first
    }

    /// The adapter an existing order is paid through: the one that recognises its provider reference.
    public func gateway(for order: RechargeOrder) -> (any PaymentGateway)? {
        let candidates = gateways.filter { $0.method == order.paymentMethod }
        if let reference = order.providerReference, let claiming = candidates.first(where: { ($0 as? any ReferenceClaiming)?.claims(reference) == true }) {
            return claiming
        }
        return candidates.first { !($0 is any ReferenceClaiming) } ?? candidates.first
    }

    public func offers(_ method: PaymentMethod) -> Bool { gateways.contains { $0.method == method && $0.isOffered } }

    public var offered: [PaymentMethod] { PaymentMethod.allCases.filter(offers) }
}

/// An adapter that shares its method with another and tells its own orders by their provider reference.
public protocol ReferenceClaiming {
    func claims(_ reference: String) -> Bool
}

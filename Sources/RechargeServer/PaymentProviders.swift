import Foundation
import Hummingbird
import RechargeCore
import RechargeOrders
import RechargePayments
import RechargeStore

/// The payment methods this server offers: the configured providers, each registered once as a
/// ``PaymentGateway`` adapter (RechargePayments), and the HTTP side of what they answer.
public struct PaymentProviders: Sendable, OrderRefunder {
    /// The built-in sandbox; nil when switched off (production).
    public let sandbox: SandboxGateway?
    /// Stripe's webhook side; nil when no webhook secret is configured.
    public let stripe: StripeGateway?
    /// The account bank transfers are paid into; nil: bank transfer is not offered.
    public let bankAccount: BankTransferAccount?
    /// Alipay's and WeChat Pay's notification side; nil when not configured.
    public let alipay: AlipayGateway?
    public let wechatPay: WeChatPayGateway?
    /// PayPal Orders v2 and its webhooks; nil when not configured.
    public let paypal: PayPalGateway?
    /// Every configured adapter: what placement, refunds, the reconciliation job and receipts ask.
    public let registry: PaymentGatewayRegistry

    public init(sandbox: SandboxGateway?, stripe: StripeGateway? = nil, bankAccount: BankTransferAccount? = nil,
                alipay: AlipayGateway? = nil, wechatPay: WeChatPayGateway? = nil, paypal: PayPalGateway? = nil) {
        self.sandbox = sandbox
        self.stripe = stripe
        self.bankAccount = bankAccount
        self.alipay = alipay
        self.wechatPay = wechatPay
        self.paypal = paypal
        self.registry = PaymentGatewayRegistry(sandbox: sandbox, stripe: stripe, bankTransfer: bankAccount.map(BankTransferGateway.init(account:)),
                                               alipay: alipay, wechatPay: wechatPay, paypal: paypal)
    }

    public func offers(_ method: PaymentMethod) -> Bool { registry.offers(method) }

    public var offered: [PaymentMethod] { registry.offered }

    /// A provider that takes one currency (the wallets: CNY) prices its orders in it unless the client asks otherwise.
    func defaultCurrency(_ method: PaymentMethod) -> Currency? {
        guard let currencies = registry.gateway(for: method)?.currencies, currencies.count == 1, let code = currencies.first else { return nil }
        return try? Currency(code: code)
    }

    /// Throws, before anything changes, when the order's money cannot go back through a provider here: bank
    /// transfers are paid back by the operator's own payment run, and a method no longer configured cannot refund.
    public func checkRefundable(_ order: RechargeOrder) throws {
        guard let gateway = registry.gateway(for: order) else { throw RechargeError.paymentMethodUnavailable(order.paymentMethod.rawValue) }
        guard gateway.capabilities.contains(.refund) else {
            throw Problem(status: .unprocessableContent, code: "refund-not-supported", title: "Refund not supported",
                          detail: "Order \(order.id) was paid by \(gateway.displayName); it is paid back by the operator's bank payment run, not through this API.")
        }
        guard gateway.isOffered else { throw RechargeError.paymentMethodUnavailable(order.paymentMethod.rawValue) }
    }

    /// Sends a refund back through the provider the order was paid with; returns the provider's refund id.
    public func refund(_ refund: OrderRefund, order: RechargeOrder) async throws -> String {
        guard let gateway = registry.gateway(for: order) else { throw RechargeError.paymentMethodUnavailable(order.paymentMethod.rawValue) }
        do {
            return try await gateway.refund(refund, order: order)
        } catch let error as RechargeError {
            throw error
        } catch {
            throw Problem.providerUnavailable("\(gateway.displayName) did not take refund \(refund.id): \(error). It stays pending; retry with the same Idempotency-Key.")
        }
    }

    /// What the payer of an order awaiting payment sees again, when it can be shown without asking the provider.
    func checkout(for order: RechargeOrder) -> CheckoutOutput? {
        registry.gateway(for: order)?.checkout(for: order).map(CheckoutOutput.init)
    }
}

extension CheckoutOutput {
    init(_ checkout: PaymentCheckout) {
        switch checkout {
        case .redirect(let url, let reference):
            self.init(type: "redirect", url: url, reference: reference, account: nil, accountName: nil, bankName: nil, clientSecret: nil, qrCode: nil)
        case .clientSecret(let secret, let reference):
            self.init(type: "client_secret", url: nil, reference: reference, account: nil, accountName: nil, bankName: nil, clientSecret: secret,
                      qrCode: nil)
        case .qrCode(let payload, let reference):
            self.init(type: "qr_code", url: nil, reference: reference, account: nil, accountName: nil, bankName: nil, clientSecret: nil, qrCode: payload)
        case .bankTransfer(let reference, let account, let holder, let bank):
            self.init(type: "bank_transfer", url: nil, reference: reference, account: account, accountName: holder, bankName: bank, clientSecret: nil,
                      qrCode: nil)
        }
    }
}

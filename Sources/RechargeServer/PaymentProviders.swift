import Foundation
import Hummingbird
import RechargeBanking
import RechargeCore
import RechargeOrders
import RechargePayments
import RechargeStore

/// The payment methods this server offers, and how each one's checkout is presented.
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

    public init(sandbox: SandboxGateway?, stripe: StripeGateway? = nil, bankAccount: BankTransferAccount? = nil,
                alipay: AlipayGateway? = nil, wechatPay: WeChatPayGateway? = nil, paypal: PayPalGateway? = nil) {
        self.sandbox = sandbox
        self.stripe = stripe
        self.bankAccount = bankAccount
        self.alipay = alipay
        self.wechatPay = wechatPay
        self.paypal = paypal
    }

    /// Sandbox and bank transfer make their references here; Stripe's comes from its API after the order exists.
    func startsCheckoutLocally(_ method: PaymentMethod) -> Bool { method == .sandbox || method == .bankTransfer }

    /// Wallets that take CNY price orders in CNY unless the client asks otherwise.
    func defaultCurrency(_ method: PaymentMethod) -> Currency? {
        method == .alipay || method == .wechatPay ? try? Currency(code: "CNY") : nil
    }

    /// How long an order of this method waits for its money: bank transfers take days.
    func lifetime(_ method: PaymentMethod) -> TimeInterval {
        method == .bankTransfer ? 7 * 86_400 : OrderStore.defaultLifetime
    }

    public func offers(_ method: PaymentMethod) -> Bool {
        switch method {
        case .sandbox: sandbox != nil
        case .bankTransfer: bankAccount != nil
        case .stripe: stripe?.client != nil
        case .alipay: alipay?.client != nil
        case .wechatPay: wechatPay?.client != nil
        case .paypal: paypal?.client != nil
        }
    }

    public var offered: [PaymentMethod] { PaymentMethod.allCases.filter(offers) }

    func reference(forOrder id: String, method: PaymentMethod) -> String? {
        switch method {
        case .sandbox: return "sbx_" + id.dropFirst(4)
        case .bankTransfer:
            // An RF creditor reference (ISO 11649): its mod-97 check digits catch most typing mistakes.
            var generator = SystemRandomNumberGenerator()
            return PaymentReference.random(using: &generator).electronic
        default: return nil
        }
    }

    /// Throws, before anything changes, when the order's money cannot go back through a provider here: bank
    /// transfers are paid back by the operator's own payment run, and a method no longer configured cannot refund.
    public func checkRefundable(_ order: RechargeOrder) throws {
        switch order.paymentMethod {
        case .bankTransfer:
            throw Problem(status: .unprocessableContent, code: "refund-not-supported", title: "Refund not supported",
                          detail: "Order \(order.id) was paid by bank transfer; it is paid back by the operator's bank payment run, not through this API.")
        case .sandbox: if sandbox == nil { throw RechargeError.paymentMethodUnavailable("sandbox") }
        case .stripe: if stripe?.client == nil { throw RechargeError.paymentMethodUnavailable("stripe") }
        case .paypal: if paypal?.client == nil { throw RechargeError.paymentMethodUnavailable("paypal") }
        case .alipay: if alipay?.client == nil { throw RechargeError.paymentMethodUnavailable("alipay") }
        case .wechatPay: if wechatPay?.client == nil { throw RechargeError.paymentMethodUnavailable("wechat_pay") }
        }
    }

    /// Sends a refund back through the provider the order was paid with; returns the provider's refund id.
    public func refund(_ refund: OrderRefund, order: RechargeOrder) async throws -> String {
        switch order.paymentMethod {
        case .sandbox:
            guard sandbox != nil else { throw RechargeError.paymentMethodUnavailable("sandbox") }
            // The sandbox gives money back at once; a real provider's call goes here, keyed by the refund id.
            return "re_sbx_" + refund.id.dropFirst(3)
        case .stripe:
            guard let client = stripe?.client, let intent = order.providerReference else {
                throw RechargeError.paymentMethodUnavailable("stripe")
            }
            do {
                return try await client.createRefund(paymentIntent: intent, amountMinorUnits: refund.amount.minorUnits(rounding: .halfEven),
                                                     idempotencyKey: "refund:\(refund.id)").id
            } catch {
                throw Problem.providerUnavailable("Stripe did not take refund \(refund.id): \(error). It stays pending; retry with the same Idempotency-Key.")
            }
        case .alipay:
            guard let client = alipay?.client else { throw RechargeError.paymentMethodUnavailable("alipay") }
            do {
                _ = try await client.refund(outTradeNo: order.id, refundAmountMinorUnits: refund.amount.minorUnits(rounding: .halfEven),
                                            outRequestNo: refund.id)
                return "alipay:" + refund.id
            } catch {
                throw Problem.providerUnavailable("Alipay did not take refund \(refund.id): \(error). It stays pending; retry with the same Idempotency-Key.")
            }
        case .wechatPay:
            guard let client = wechatPay?.client else { throw RechargeError.paymentMethodUnavailable("wechat_pay") }
            do {
                let answer = try await client.refund(outTradeNo: order.id, outRefundNo: refund.id, refundFen: refund.amount.minorUnits(rounding: .halfEven),
                                                     totalFen: order.quote.price.minorUnits(rounding: .halfEven))
                return answer.refundID ?? "wechat:" + refund.id
            } catch {
                throw Problem.providerUnavailable("WeChat Pay did not take refund \(refund.id): \(error). It stays pending; retry with the same Idempotency-Key.")
            }
        case .paypal:
            guard let paypal else { throw RechargeError.paymentMethodUnavailable("paypal") }
            do {
                return try await paypal.refund(refund, order: order)
            } catch let error as RechargeError {
                throw error
            } catch {
                throw Problem.providerUnavailable("PayPal did not take refund \(refund.id): \(error). It stays pending; retry with the same Idempotency-Key.")
            }
        case .bankTransfer:
            // Bank transfers go back by the operator's own payment run; not through this API yet.
            throw RechargeError.paymentMethodUnavailable(order.paymentMethod.rawValue)
        }
    }

    func checkout(for order: RechargeOrder) -> CheckoutOutput? {
        switch order.paymentMethod {
        case .sandbox:
            return CheckoutOutput(type: "redirect", url: "/sandbox/checkout/\(order.id)", reference: nil, account: nil, accountName: nil, bankName: nil,
                                  clientSecret: nil, qrCode: nil)
        case .bankTransfer:
            guard let account = bankAccount, let text = order.providerReference, let reference = try? PaymentReference(text) else { return nil }
            return CheckoutOutput(type: "bank_transfer", url: nil, reference: reference.printed, account: account.account,
                                  accountName: account.holder, bankName: account.bank, clientSecret: nil, qrCode: nil)
        case .paypal:
            guard let url = paypal?.approvalURL(order) else { return nil }
            return CheckoutOutput(type: "redirect", url: url, reference: order.providerReference, account: nil, accountName: nil, bankName: nil,
                                  clientSecret: nil, qrCode: nil)
        default:
            return nil
        }
    }
}

/// The operator's account that bank transfers are paid into, shown to the payer with the order's reference.
public struct BankTransferAccount: Sendable, Equatable {
    public let holder: String
    /// IBAN, or account and routing number as the bank prints them.
    public let account: String
    public let bank: String?

    public init(holder: String, account: String, bank: String?) {
        self.holder = holder
        self.account = account
        self.bank = bank
    }
}

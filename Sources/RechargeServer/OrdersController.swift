import Foundation
import HTTPTypes
import Hummingbird
import RechargeBanking
import RechargeCore
import RechargePayments
import RechargeStore

/// `/v1/catalog`, `/v1/lines/{msisdn}/orders` and `/v1/orders/{id}`: what is for sale, and recharge orders from
/// creation to receipt. Payment happens at the provider (the sandbox checkout page by default); the order is
/// fulfilled only by the provider's verified notification, never by the browser coming back.
struct OrdersController {
    let catalog: CatalogStore
    let orders: OrderStore
    let payments: PaymentProviders
    let clock: @Sendable () -> Date

    func addRoutes(to group: RouterGroup<RechargeRequestContext>) {
        group.get("catalog", use: getCatalog)
        group.put("catalog", use: putCatalog)
        group.post("lines/{msisdn}/quotes", use: quote)
        group.post("lines/{msisdn}/orders", use: create)
        group.get("lines/{msisdn}/orders", use: list)
        group.get("orders/{id}", use: get)
        group.post("orders/{id}/cancel", use: cancel)
        group.get("orders/{id}/receipt", use: receipt)
        group.post("orders/{id}/refunds", use: refund)
        group.get("orders/{id}/refunds", use: listRefunds)
    }

    @Sendable func getCatalog(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        _ = try context.require(.read)
        return try JSONResponse.make(try await catalog.catalog().definition)
    }

    /// Replaces the catalog (admin): products not in the body stop being sold.
    @Sendable func putCatalog(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        _ = try context.require(.admin)
        let parsed: Catalog
        if request.headers[.contentType]?.contains("yaml") == true {
            let text = String(buffer: try await JSONBody.collect(request, upTo: context.maxUploadSize))
            parsed = try CatalogFile.parse(text)
        } else {
            parsed = try Catalog(try await JSONBody.decode(CatalogDefinition.self, from: request, context: context))
        }
        _ = try await catalog.importCatalog(parsed, now: clock())
        return try JSONResponse.make(try await catalog.catalog().definition)
    }

    @Sendable func create(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        _ = try context.require(.write)
        let msisdn = try LinesController.msisdn(context)
        let key = try LinesController.idempotencyKey(request)
        let body = try await JSONBody.decode(CreateOrderRequest.self, from: request, context: context)
        guard payments.offers(body.paymentMethod) else { throw RechargeError.paymentMethodUnavailable(body.paymentMethod.rawValue) }
        let now = clock()
        // Checkout starts in the creating transaction (the sandbox's and bank transfer's references are made
        // here); a replayed create finds it started and gets the same answer.
        let payments = self.payments
        let method = body.paymentMethod
        var localCheckout: (@Sendable (String) -> String?)?
        if payments.startsCheckoutLocally(method) {
            localCheckout = { id in payments.reference(forOrder: id, method: method) }
        }
        let creation = try await orders.create(msisdn: msisdn, item: try body.item(), paymentMethod: method,
                                               promotionCode: body.promotionCode, payCurrency: try body.payCurrency() ?? payments.defaultCurrency(method),
                                               key: key, now: now,
                                               lifetime: payments.lifetime(method),
                                               checkout: localCheckout)
        var order = creation.order
        var checkout = order.state == .awaitingPayment ? payments.checkout(for: order) : nil
        // A replayed create of an order already paid (or closed) answers with the order as it is, asking no provider.
        let payable = order.state == .created || order.state == .awaitingPayment
        if payable, let stripe = payments.stripe?.client, method == .stripe {
            // The PaymentIntent is made after the order is committed (never a network call inside a transaction),
            // keyed by the order id, so a retried create (or a crash in between) finds the same intent.
            let intent: StripePaymentIntent
            do {
                intent = try await stripe.createPaymentIntent(
                    amountMinorUnits: order.quote.price.minorUnits(rounding: .halfEven), currency: order.quote.price.currency.code.lowercased(),
                    orderID: order.id, idempotencyKey: "order:\(order.id):intent")
            } catch {
                throw Problem(status: .badGateway, code: "payment-provider-unavailable", title: "Payment provider unavailable",
                              detail: "Stripe could not start the payment of order \(order.id): \(error). Retry with the same Idempotency-Key.")
            }
            if order.state == .created { order = try await orders.startCheckout(order.id, providerReference: intent.id, now: now) }
            checkout = CheckoutOutput(type: "client_secret", url: nil, reference: intent.id, account: nil, accountName: nil, bankName: nil,
                                      clientSecret: intent.clientSecret, qrCode: nil)
        }
        if payable, method == .alipay || method == .wechatPay {
            // A QR code for the payer's wallet app; the trade number is the order id, so a retried create asks for the
            // same trade again (both gateways answer a repeated out_trade_no with the same trade).
            let price = order.quote.price
            guard price.currency.code == "CNY" else {
                throw RechargeError.invalidRequest("\(method.rawValue) takes payment in CNY; this order is priced in \(price.currency.code).")
            }
            let content: String
            do {
                if method == .alipay, let client = payments.alipay?.client {
                    content = try await client.precreate(outTradeNo: order.id, totalAmountMinorUnits: price.minorUnits(rounding: .halfEven),
                                                         subject: order.quote.names["zh-Hans"] ?? order.quote.names["en"] ?? order.id).qrCode
                } else if let client = payments.wechatPay?.client {
                    content = try await client.nativePay(outTradeNo: order.id, description: order.quote.names["zh-Hans"] ?? order.quote.names["en"] ?? order.id,
                                                         totalFen: price.minorUnits(rounding: .halfEven))
                } else {
                    throw RechargeError.paymentMethodUnavailable(method.rawValue)
                }
            } catch let error as RechargeError {
                throw error
            } catch {
                throw Problem(status: .badGateway, code: "payment-provider-unavailable", title: "Payment provider unavailable",
                              detail: "\(method.rawValue) could not start the payment of order \(order.id): \(error). Retry with the same Idempotency-Key.")
            }
            if order.state == .created { order = try await orders.startCheckout(order.id, providerReference: order.id, now: now) }
            checkout = CheckoutOutput(type: "qr_code", url: nil, reference: order.id, account: nil, accountName: nil, bankName: nil,
                                      clientSecret: nil, qrCode: content)
        }
        var response = try JSONResponse.make(OrderOutput(order, checkout: checkout), status: .created)
        response.headers[.location] = "/v1/orders/\(order.id)"
        if creation.replayed { response.headers[LinesController.replayedHeader] = "true" }
        return response
    }

    /// The price with promotions applied, nothing reserved: what the portal shows when a code is entered.
    @Sendable func quote(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        _ = try context.require(.read)
        let msisdn = try LinesController.msisdn(context)
        let body = try await JSONBody.decode(QuoteRequest.self, from: request, context: context)
        let payCurrency = try body.currency.map { code throws(RechargeError) in try Currency(code: code) }
        return try JSONResponse.make(QuoteOutput(try await orders.quote(msisdn: msisdn, item: try body.item(), promotionCode: body.promotionCode,
                                                                        payCurrency: payCurrency, now: clock())))
    }

    @Sendable func list(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        _ = try context.require(.read)
        let items = try await orders.orders(msisdn: try LinesController.msisdn(context), limit: 100)
        return try JSONResponse.make(OrderListOutput(items: items.map { OrderOutput($0) }))
    }

    @Sendable func get(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        _ = try context.require(.read)
        let order = try await orders.order(try id(context))
        return try JSONResponse.make(OrderOutput(order, checkout: order.state == .awaitingPayment ? payments.checkout(for: order) : nil))
    }

    @Sendable func cancel(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        _ = try context.require(.write)
        return try JSONResponse.make(OrderOutput(try await orders.cancel(try id(context), now: clock())))
    }

    /// Takes the amount off the line and the order in one transaction, then has the provider send it back.
    @Sendable func refund(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        _ = try context.require(.write)
        let key = try LinesController.idempotencyKey(request)
        let body = try await JSONBody.decode(RefundRequest.self, from: request, context: context)
        let now = clock()
        let started = try await orders.startRefund(orderID: try id(context), amount: try body.amount?.money(), reason: body.reason, key: key, now: now)
        var refund = started.refund
        if refund.state == .pending {
            let reference = try await payments.refund(refund, order: started.order)
            refund = try await orders.completeRefund(refund.id, providerReference: reference, now: clock())
        }
        var response = try JSONResponse.make(RefundOutput(refund), status: .created)
        if started.replayed { response.headers[LinesController.replayedHeader] = "true" }
        return response
    }

    @Sendable func listRefunds(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        _ = try context.require(.read)
        return try JSONResponse.make(RefundListOutput(items: try await orders.refunds(orderID: try id(context)).map(RefundOutput.init)))
    }

    /// JSON, or a printable HTML page when the client asks for `text/html`.
    @Sendable func receipt(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        _ = try context.require(.read)
        let order = try await orders.order(try id(context))
        guard [.fulfilled, .refunded, .partiallyRefunded].contains(order.state) else {
            throw Problem(status: .conflict, code: "receipt-not-available", title: "Receipt not available",
                          detail: "Order \(order.id) is \(order.state.rawValue); receipts exist for fulfilled orders.")
        }
        let receipt = ReceiptOutput(order)
        if request.headers[.accept]?.contains("text/html") == true {
            let language = request.headers[.acceptLanguage]?.hasPrefix("zh") == true ? "zh-Hans" : "en"
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: ReceiptPage.html(receipt, language: language))))
        }
        return try JSONResponse.make(receipt)
    }

    private func id(_ context: RechargeRequestContext) throws -> String {
        context.parameters.get("id") ?? ""
    }
}

/// The payment methods this server offers, and how each one's checkout is presented.
public struct PaymentProviders: Sendable {
    /// The built-in sandbox; nil when switched off (production).
    public let sandbox: SandboxGateway?
    /// Stripe's webhook side; nil when no webhook secret is configured.
    public let stripe: StripeGateway?
    /// The account bank transfers are paid into; nil: bank transfer is not offered.
    public let bankAccount: BankTransferAccount?
    /// Alipay's and WeChat Pay's notification side; nil when not configured.
    public let alipay: AlipayGateway?
    public let wechatPay: WeChatPayGateway?

    public init(sandbox: SandboxGateway?, stripe: StripeGateway? = nil, bankAccount: BankTransferAccount? = nil,
                alipay: AlipayGateway? = nil, wechatPay: WeChatPayGateway? = nil) {
        self.sandbox = sandbox
        self.stripe = stripe
        self.bankAccount = bankAccount
        self.alipay = alipay
        self.wechatPay = wechatPay
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
        case .paypal: false
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

    /// Sends a refund back through the provider the order was paid with; returns the provider's refund id.
    func refund(_ refund: OrderRefund, order: RechargeOrder) async throws -> String {
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
                throw Problem(status: .badGateway, code: "payment-provider-unavailable", title: "Payment provider unavailable",
                              detail: "Stripe did not take refund \(refund.id): \(error). It stays pending; retry with the same Idempotency-Key.")
            }
        case .alipay:
            guard let client = alipay?.client else { throw RechargeError.paymentMethodUnavailable("alipay") }
            do {
                _ = try await client.refund(outTradeNo: order.id, refundAmountMinorUnits: refund.amount.minorUnits(rounding: .halfEven),
                                            outRequestNo: refund.id)
                return "alipay:" + refund.id
            } catch {
                throw Problem(status: .badGateway, code: "payment-provider-unavailable", title: "Payment provider unavailable",
                              detail: "Alipay did not take refund \(refund.id): \(error). It stays pending; retry with the same Idempotency-Key.")
            }
        case .wechatPay:
            guard let client = wechatPay?.client else { throw RechargeError.paymentMethodUnavailable("wechat_pay") }
            do {
                let answer = try await client.refund(outTradeNo: order.id, outRefundNo: refund.id, refundFen: refund.amount.minorUnits(rounding: .halfEven),
                                                     totalFen: order.quote.price.minorUnits(rounding: .halfEven))
                return answer.refundID ?? "wechat:" + refund.id
            } catch {
                throw Problem(status: .badGateway, code: "payment-provider-unavailable", title: "Payment provider unavailable",
                              detail: "WeChat Pay did not take refund \(refund.id): \(error). It stays pending; retry with the same Idempotency-Key.")
            }
        case .paypal, .bankTransfer:
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
        default:
            return nil
        }
    }
}

/// The printable receipt, in English or Simplified Chinese.
enum ReceiptPage {
    static func html(_ receipt: ReceiptOutput, language: String) -> String {
        let zh = language == "zh-Hans"
        func row(_ label: String, _ value: String?) -> String {
            guard let value else { return "" }
            return "<tr><th scope=\"row\">\(OutboxController.escape(label))</th><td>\(OutboxController.escape(value))</td></tr>"
        }
        func money(_ money: MoneyOutput?) -> String? { money.map { "\($0.value) \($0.currency)" } }
        let allowances = receipt.allowances.map { allowance in
            "\(Quantity.format(allowance.amount, kind: allowance.kind)) \(allowance.kind.rawValue)"
        }.joined(separator: ", ")
        let title = zh ? "充值收据" : "Recharge receipt"
        return """
            <!doctype html>
            <html lang="\(zh ? "zh-Hans" : "en")"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
            <title>\(title) \(receipt.receiptNumber)</title>
            <style>body{font-family:system-ui,sans-serif;max-width:32em;margin:1em auto;padding:0 1em;color:#111}table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:6px;border-bottom:1px solid #ddd}th{font-weight:600;width:40%}@media print{button{display:none}}</style>
            </head><body>
            <h1>\(title)</h1>
            <table>
            \(row(zh ? "收据编号" : "Receipt number", receipt.receiptNumber))
            \(row(zh ? "订单" : "Order", receipt.order))
            \(row(zh ? "号码" : "Phone number", receipt.msisdn))
            \(row(zh ? "项目" : "Item", receipt.description[language] ?? receipt.description["en"]))
            \(row(zh ? "支付方式" : "Paid with", receipt.paymentMethod.rawValue))
            \(row(zh ? "支付参考号" : "Payment reference", receipt.providerReference))
            \(row(zh ? "支付金额" : "Amount paid", money(receipt.paid)))
            \(row(zh ? "原价" : "List price", receipt.discount == nil ? nil : money(receipt.listPrice)))
            \(row(zh ? "优惠" : "Discount", money(receipt.discount)))
            \(row(zh ? "充入余额" : "Credited", money(receipt.credited)))
            \(row(zh ? "赠送余额" : "Bonus credit", money(receipt.bonus)))
            \(row(zh ? "促销" : "Promotions", receipt.promotions.isEmpty ? nil : receipt.promotions.joined(separator: ", ")))
            \(row(zh ? "套餐内容" : "Allowances", allowances.isEmpty ? nil : allowances))
            \(row(zh ? "有效期(天)" : "Valid for (days)", receipt.validityDays.map(String.init)))
            \(row(zh ? "充值后余额" : "Balance after", money(receipt.balanceAfter)))
            \(row(zh ? "支付时间" : "Paid at", receipt.paidAt))
            \(row(zh ? "状态" : "Status", receipt.state.rawValue))
            </table>
            <p><button type="button" onclick="window.print()">\(zh ? "打印" : "Print")</button></p>
            </body></html>
            """
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

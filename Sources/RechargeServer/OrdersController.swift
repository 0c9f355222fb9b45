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
    let renewals: PackRenewalStore
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
        group.post("bank-statements", use: importBankStatement)
        group.get("bank-review", use: bankReview)
        group.get("orders/{id}/refunds", use: listRefunds)
        group.get("lines/{msisdn}/renewals", use: listRenewals)
        group.post("renewals/{id}/cancel", use: cancelRenewal)
    }

    /// The line's packs marked to renew, and where each stands.
    @Sendable func listRenewals(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        _ = try context.require(.read)
        let items = try await renewals.renewals(msisdn: try LinesController.msisdn(context))
        return try JSONResponse.make(RenewalListOutput(items: items.map(RenewalOutput.init)))
    }

    /// The subscriber turns renewal off: the pack ends with its current period.
    @Sendable func cancelRenewal(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        _ = try context.require(.write)
        return try JSONResponse.make(RenewalOutput(try await renewals.cancel(context.parameters.get("id") ?? "", now: clock())))
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
        let wantsSession = try body.wantsStripeSession()   // checked before anything is made
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
        // A Checkout Session when asked for (or when this order already has one: a replayed create).
        if payable, let stripe = payments.stripe, stripe.client != nil, method == .stripe,
           order.state == .created ? wantsSession : order.providerReference?.hasPrefix("cs_") == true {
            let session: StripeCheckoutSession
            do {
                session = try await stripe.startSession(order, locale: request.headers[.acceptLanguage]?.hasPrefix("zh") == true ? "zh" : nil)
            } catch let error as RechargeError {
                throw error
            } catch {
                throw Problem.providerUnavailable("Stripe could not start the payment of order \(order.id): \(error). Retry with the same Idempotency-Key.")
            }
            if order.state == .created { order = try await orders.startCheckout(order.id, providerReference: session.id, now: now) }
            checkout = CheckoutOutput(type: "redirect", url: session.url, reference: session.id, account: nil, accountName: nil, bankName: nil,
                                      clientSecret: nil, qrCode: nil)
        } else if payable, let stripe = payments.stripe?.client, method == .stripe {
            // The PaymentIntent is made after the order is committed (never a network call inside a transaction),
            // keyed by the order id, so a retried create (or a crash in between) finds the same intent.
            let intent: StripePaymentIntent
            do {
                intent = try await stripe.createPaymentIntent(
                    amountMinorUnits: order.quote.price.minorUnits(rounding: .halfEven), currency: order.quote.price.currency.code.lowercased(),
                    orderID: order.id, idempotencyKey: "order:\(order.id):intent")
            } catch {
                throw Problem.providerUnavailable("Stripe could not start the payment of order \(order.id): \(error). Retry with the same Idempotency-Key.")
            }
            if order.state == .created { order = try await orders.startCheckout(order.id, providerReference: intent.id, now: now) }
            checkout = CheckoutOutput(type: "client_secret", url: nil, reference: intent.id, account: nil, accountName: nil, bankName: nil,
                                      clientSecret: intent.clientSecret, qrCode: nil)
        }
        if payable, let paypal = payments.paypal, method == .paypal {
            // A PayPal order, made after ours is committed and keyed by its id (a retried create gets the same
            // PayPal order back); the payer is sent to its approval page.
            if order.state == .created {
                let started: (reference: String, approvalURL: String)
                do {
                    started = try await paypal.startCheckout(order, locale: request.headers[.acceptLanguage]?.hasPrefix("zh") == true ? "zh-CN" : nil)
                } catch let error as RechargeError {
                    throw error
                } catch {
                    throw Problem.providerUnavailable("PayPal could not start the payment of order \(order.id): \(error). Retry with the same Idempotency-Key.")
                }
                order = try await orders.startCheckout(order.id, providerReference: started.reference, now: now)
                checkout = CheckoutOutput(type: "redirect", url: started.approvalURL, reference: started.reference, account: nil, accountName: nil,
                                          bankName: nil, clientSecret: nil, qrCode: nil)
            }
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
                throw Problem.providerUnavailable("\(method.rawValue) could not start the payment of order \(order.id): \(error). Retry with the same Idempotency-Key.")
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

    /// A bank statement (camt.053 XML, or CSV with `?account=`): pays matching bank-transfer orders once per entry.
    @Sendable func importBankStatement(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        _ = try context.require(.admin)
        let data = Data(buffer: try await JSONBody.collect(request, upTo: 8 << 20))
        let statements: [BankStatement]
        do {
            if request.headers[.contentType]?.contains("csv") == true {
                guard let account = request.uri.queryParameters.get("account") else {
                    throw RechargeError.invalidRequest("A CSV statement needs ?account= (the account it is for).")
                }
                statements = [try StatementCSVParser().parse(data, statementID: "upload", account: .other(account))]
            } else {
                statements = try Camt053Parser().parse(data)
            }
        } catch let error as BankingError {
            throw Problem(status: .badRequest, code: "invalid-statement", title: "Invalid bank statement", detail: error.detail)
        }
        let total = try await BankStatementImport(orders: orders).apply(statements, now: clock())
        var json = JSONWriter(capacity: 128)
        json.object { json in
            json.field("statements", statements.count)
            json.field("credits", total.credits)
            json.field("paid", total.paid)
            json.field("alreadyApplied", total.alreadyApplied)
            json.field("toReview", total.toReview)
            json.field("debitsIgnored", total.debitsIgnored)
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }

    @Sendable func bankReview(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        _ = try context.require(.admin)
        let items = try await orders.bankReview()
        var json = JSONWriter(capacity: 256 * max(1, items.count))
        json.object { json in
            json.key("items")
            json.array(items) { json, item in
                json.object { json in
                    json.field("id", item.id)
                    json.field("account", item.account)
                    json.field("entryReference", item.entryReference)
                    json.field("outcome", item.outcome)
                    json.field("order", item.orderID)
                    json.field("amount", item.amount.decimalString)
                    json.field("currency", item.amount.currency.code)
                    json.field("bookingDate", item.bookingDate)
                    json.field("debtor", item.debtor)
                    json.field("remittance", item.remittance)
                }
            }
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }

    /// Takes the amount off the line and the order in one transaction, then has the provider send it back.
    @Sendable func refund(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        _ = try context.require(.write)
        let key = try LinesController.idempotencyKey(request)
        let body = try await JSONBody.decode(RefundRequest.self, from: request, context: context)
        let now = clock()
        // Nothing is taken off the line for money no provider here can send back.
        try payments.checkRefundable(try await orders.order(try id(context)))
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

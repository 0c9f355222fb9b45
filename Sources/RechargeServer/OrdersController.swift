import Foundation
import HTTPTypes
import Hummingbird
import RechargeBanking
import RechargeCore
import RechargeOrders
import RechargePayments
import RechargeStore

/// `/v1/catalog`, `/v1/lines/{msisdn}/orders` and `/v1/orders/{id}`: what is for sale, and recharge orders from
/// creation to receipt. Payment happens at the provider (or the sandbox's checkout page, when it is on); the order is
/// fulfilled only by the provider's verified notification, never by the browser coming back. Handlers decode, call
/// the store or the order service, and return a reply (``OrderReply``, ``RefundReply``, ``RenewalReply``,
/// ``BankReply``) that knows its status, headers and body.
struct OrdersController {
    let catalog: CatalogStore
    let orders: OrderStore
    let service: OrderService
    let renewals: PackRenewalStore
    let payments: PaymentProviders
    let clock: @Sendable () -> Date
    /// The printable receipt; nil when the portal's templates cannot be loaded (the receipt is then JSON only).
    let receiptPage: ReceiptPage?

    func addRoutes(to group: RouterGroup<RechargeRequestContext>) {
        let read = group.requiring(.read)
        let write = group.requiring(.write)
        let admin = group.requiring(.admin)
        read.get("catalog", use: getCatalog)
        admin.put("catalog", use: putCatalog)
        read.post("lines/{msisdn}/quotes", use: quote)
        write.post("lines/{msisdn}/orders", use: create)
        read.get("lines/{msisdn}/orders", use: list)
        read.get("orders/{id}", use: get)
        write.post("orders/{id}/cancel", use: cancel)
        read.get("orders/{id}/receipt", use: receipt)
        write.post("orders/{id}/refunds", use: refund)
        admin.post("bank-statements", use: importBankStatement)
        admin.get("bank-review", use: bankReview)
        read.get("orders/{id}/refunds", use: listRefunds)
        read.get("lines/{msisdn}/renewals", use: listRenewals)
        write.post("renewals/{id}/cancel", use: cancelRenewal)
        write.post("renewals/{id}/resume", use: resumeRenewal)
    }

    /// The line's packs marked to renew, and where each stands.
    @Sendable func listRenewals(_ request: Request, context: RechargeRequestContext) async throws -> RenewalReply {
        let items = try await renewals.renewals(msisdn: try context.msisdn())
        return .list(RenewalListOutput(items: items.map(RenewalOutput.init)))
    }

    /// The subscriber turns renewal off: the pack ends with its current period.
    @Sendable func cancelRenewal(_ request: Request, context: RechargeRequestContext) async throws -> RenewalReply {
        return .renewal(RenewalOutput(try await renewals.cancel(context.parameters.get("id") ?? "", now: clock())))
    }

    /// The subscriber turns renewal back on (the portal's switch does the same): allowed while the pack's current
    /// period lasts, not after a failed renewal or a refund (409 with the reason's code).
    @Sendable func resumeRenewal(_ request: Request, context: RechargeRequestContext) async throws -> RenewalReply {
        do {
            return .renewal(RenewalOutput(try await renewals.setAutoRenew(context.parameters.get("id") ?? "", on: true, now: clock())))
        } catch let refusal as PackRenewalSwitch.Refusal {
            throw Problem(status: .conflict, code: refusal.code, title: "Renewal cannot be turned on", detail: refusal.detail)
        }
    }

    @Sendable func getCatalog(_ request: Request, context: RechargeRequestContext) async throws -> OrderReply {
        return .catalog(try await catalog.catalog().definition)
    }

    /// Replaces the catalog (admin): products not in the body stop being sold.
    @Sendable func putCatalog(_ request: Request, context: RechargeRequestContext) async throws -> OrderReply {
        let parsed: Catalog
        if request.headers[.contentType]?.contains("yaml") == true {
            let text = String(buffer: try await JSONBody.collect(request, upTo: context.maxUploadSize))
            parsed = try CatalogFile.parse(text)
        } else {
            parsed = try Catalog(try await JSONBody.decode(CatalogDefinition.self, from: request, context: context))
        }
        _ = try await catalog.importCatalog(parsed, now: clock())
        return .catalog(try await catalog.catalog().definition)
    }

    @Sendable func create(_ request: Request, context: RechargeRequestContext) async throws -> OrderReply {
        let msisdn = try context.msisdn()
        let key = try request.idempotencyKey()
        let body = try await JSONBody.decode(CreateOrderRequest.self, from: request, context: context)
        let placed = try await OrderPlacement(orders: service, payments: payments).place(
            msisdn: msisdn, item: try body.item(), method: body.paymentMethod, promotionCode: body.promotionCode,
            payCurrency: try body.payCurrency(), stripeSession: try body.wantsStripeSession(), key: key,
            chinese: request.headers[.acceptLanguage]?.hasPrefix("zh") == true)
        return .placed(placed.order, checkout: placed.checkout, replayed: placed.replayed)
    }

    /// The price with promotions applied, nothing reserved: what the portal shows when a code is entered.
    @Sendable func quote(_ request: Request, context: RechargeRequestContext) async throws -> OrderReply {
        let msisdn = try context.msisdn()
        let body = try await JSONBody.decode(QuoteRequest.self, from: request, context: context)
        let payCurrency = try body.currency.map { code throws(RechargeError) in try Currency(code: code) }
        return .quote(QuoteOutput(try await orders.quote(msisdn: msisdn, item: try body.item(), promotionCode: body.promotionCode,
                                                         payCurrency: payCurrency, now: clock()),
                                  paymentMethods: payments.offered))
    }

    @Sendable func list(_ request: Request, context: RechargeRequestContext) async throws -> OrderReply {
        let items = try await orders.orders(msisdn: try context.msisdn(), limit: 100)
        return .orders(OrderListOutput(items: items.map { OrderOutput($0) }))
    }

    @Sendable func get(_ request: Request, context: RechargeRequestContext) async throws -> OrderReply {
        let order = try await orders.order(try id(context))
        return .order(OrderOutput(order, checkout: order.state == .awaitingPayment ? payments.checkout(for: order) : nil))
    }

    @Sendable func cancel(_ request: Request, context: RechargeRequestContext) async throws -> OrderReply {
        return .order(OrderOutput(try await service.cancel(try id(context))))
    }

    /// A bank statement (camt.053 XML, or CSV with `?account=`): pays matching bank-transfer orders once per entry.
    @Sendable func importBankStatement(_ request: Request, context: RechargeRequestContext) async throws -> BankReply {
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
        return .imported(statements: statements.count, total)
    }

    @Sendable func bankReview(_ request: Request, context: RechargeRequestContext) async throws -> BankReply {
        return .review(try await orders.bankReview())
    }

    /// Takes the amount off the line and the order in one transaction, then has the provider send it back.
    @Sendable func refund(_ request: Request, context: RechargeRequestContext) async throws -> RefundReply {
        let key = try request.idempotencyKey()
        let body = try await JSONBody.decode(RefundRequest.self, from: request, context: context)
        let started = try await service.refund(orderID: try id(context), amount: try body.amount?.money(), reason: body.reason, key: key,
                                               through: payments)
        return .started(started.refund, replayed: started.replayed)
    }

    @Sendable func listRefunds(_ request: Request, context: RechargeRequestContext) async throws -> RefundReply {
        return .list(RefundListOutput(items: try await orders.refunds(orderID: try id(context)).map(RefundOutput.init)))
    }

    /// JSON, or a printable HTML page when the client asks for `text/html`.
    @Sendable func receipt(_ request: Request, context: RechargeRequestContext) async throws -> OrderReply {
        let order = try await orders.order(try id(context))
        guard [.fulfilled, .refunded, .partiallyRefunded].contains(order.state) else {
            throw Problem(status: .conflict, code: "receipt-not-available", title: "Receipt not available",
                          detail: "Order \(order.id) is \(order.state.rawValue); receipts exist for fulfilled orders.")
        }
        guard request.headers[.accept]?.contains("text/html") == true, let receiptPage else { return .receipt(ReceiptOutput(order)) }
        let language: NotificationLanguage = request.headers[.acceptLanguage]?.hasPrefix("zh") == true ? .simplifiedChinese : .english
        return .receiptPage(receiptPage.html(ReceiptOutput(order), language: language))
    }

    private func id(_ context: RechargeRequestContext) throws -> String {
        context.parameters.get("id") ?? ""
    }
}

import Foundation
import Hummingbird
import RechargeCore
import RechargeOrders
import RechargeQR
import RechargeStore

/// The signed-in pages: dashboard, recharge (choose, review, pay, result, receipt), voucher redemption and
/// history (filters, receipts, CSV). Every line, order and operation is checked to be the account's own first.
extension PortalController {
    func addAccountRoutes(to router: Router<RechargeRequestContext>) {
        router.get("dashboard", use: wrap(dashboard))
        router.get("recharge", use: wrap(rechargePage))
        router.get("recharge/review", use: wrap(review))
        router.post("recharge/pay", use: wrap(pay))
        router.get("orders/{id}", use: wrap(orderPage))
        router.get("orders/{id}/receipt", use: wrap(orderReceipt))
        router.get("orders/{id}/qr.png", use: wrap(orderQRCode))
        router.get("orders/{id}/state", use: wrap(orderState))
        router.get("redeem", use: wrap(redeemPage))
        router.post("redeem", use: wrap(redeem))
        router.post("renewals", use: wrap(switchRenewal))
        router.get("history", use: wrap(historyPage))
        router.get("history.csv", use: wrap(historyCSV))
        router.get("history/{operation}/receipt", use: wrap(operationReceipt))
    }

    // MARK: Lines

    /// The account's line named by `text` (or its first line when `text` is empty); a number that is not the
    /// account's is answered exactly like one that does not exist.
    func ownedLine(_ text: String?, _ account: Account) async throws -> MSISDN {
        let lines = try await accounts.lines(accountID: account.id)
        guard let text, !text.isEmpty else {
            guard let first = lines.first else { throw PortalRedirect(location: "/settings?noLines=1") }
            return first
        }
        guard let msisdn = try? MSISDN(text), lines.contains(msisdn) else { throw PortalRefusal.notFound }
        return msisdn
    }

    static func money(_ money: Money) -> String { PortalLocale.money(money) }

    /// The valid main-currency balance of a line: what is left, not counting a postpaid line's credit limit.
    static func mainBalance(_ summary: BalanceSummary) -> Money {
        let total = summary.totals.first { $0.kind == .monetary && $0.unit == summary.line.currency.code }
        return Money(micros: total?.remaining ?? 0, currency: summary.line.currency)
    }

    static func day(_ date: Date) -> String {
        Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!).year().month().day().format(date)
    }

    /// `2026-11-28 07:25 UTC`.
    static func minute(_ date: Date) -> String {
        let text = Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!).format(date)   // 2026-11-28T07:25:17Z
        return String(text.prefix(10)) + " " + String(text.dropFirst(11).prefix(5)) + " UTC"
    }

    // MARK: Dashboard

    @Sendable func dashboard(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let now = clock()
        let catalog = try await services.catalog.catalog()
        var lines: [DashboardView.Line] = []
        for msisdn in try await accounts.lines(accountID: account.id) {
            let summary = try await services.ledger.balance(msisdn, at: now)
            let granted = try await services.ledger.grantedAmounts(msisdn)
            let threshold = try await services.notificationPreferences.preferences(msisdn).lowBalanceThreshold
            let renewals = DashboardView.Renewal.list(try await services.renewals.renewals(msisdn: msisdn), line: msisdn, catalog: catalog, now: now,
                                                      locale(visitor))
            lines.append(DashboardView.line(msisdn, summary, granted: granted, threshold: threshold, renewals: renewals, now: now, catalog: catalog,
                                            locale(visitor)))
        }
        // After a switch (`POST /renewals` redirects here): what it did, in the page's language.
        let switched = request.uri.queryParameters.get("renew")
        let notice = switched == "on" ? text("renew_notice_on", visitor) : switched == "off" ? text("renew_notice_off", visitor) : nil
        return page("dashboard", visitor, title: "dashboard_title", model: DashboardView(lines: lines), flash: PortalFlash(notice: notice))
    }

    /// A pack's auto-renew switch (`on` = 1 or 0) for a renewal of one of the account's lines; any other renewal is
    /// answered like one that does not exist. Refusals (the period over, a refund, a failed renewal) are localized.
    @Sendable func switchRenewal(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let fields = try await form(request, visitor)
        let msisdn = try await ownedLine(fields["line"], account)
        let id = fields["renewal"] ?? ""
        guard try await services.renewals.renewals(msisdn: msisdn).contains(where: { $0.id == id }) else { throw PortalRefusal.notFound }
        let on: Bool
        switch fields["on"] {
        case "1": on = true
        case "0": on = false
        default: throw PortalRefusal(status: .badRequest, key: "error_generic")
        }
        do {
            _ = try await services.renewals.setAutoRenew(id, on: on, now: clock())
        } catch let refusal as PackRenewalSwitch.Refusal {
            let key = switch refusal {
            case .failed: "renew_error_failed"
            case .periodOver: "renew_error_period_over"
            case .refunded: "renew_error_refunded"
            }
            throw PortalRefusal(status: .conflict, key: key)
        }
        return redirect("/dashboard?renew=\(on ? "on" : "off")", visitor)
    }

    // MARK: Recharge

    @Sendable func rechargePage(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let query = request.uri.queryParameters
        let msisdn = try await ownedLine(query.get("line"), account)
        return try await rechargeForm(visitor, account: account, msisdn: msisdn, item: query.get("item"), code: query.get("promotionCode") ?? "",
                                      method: query.get("method"), amount: query.get("amount") ?? "")
    }

    func rechargeForm(_ visitor: Visitor, account: Account, msisdn: MSISDN, item selectedItem: String?, code: String, method: String?,
                      amount: String = "", status: HTTPResponse.Status = .ok, error: String? = nil) async throws -> Response {
        let line = try await services.ledger.line(msisdn)
        let catalog = try await services.catalog.catalog()
        let lines = LineOption.list(try await accounts.lines(accountID: account.id), selected: msisdn)
        let view = RechargeView.make(lines: lines, products: catalog.products, currency: line.currency, selected: selectedItem, code: code,
                                     methods: offeredMethods, method: method, customRange: catalog.customTopUp[line.currency],
                                     amount: String(amount.prefix(40)), locale(visitor))
        return page("recharge", visitor, title: "recharge_title", status: status, model: view, flash: PortalFlash(error: error))
    }

    /// The payment methods a subscriber can finish in the browser: those configured, in this order.
    var offeredMethods: [PaymentMethod] {
        [.sandbox, .stripe, .paypal, .alipay, .wechatPay, .bankTransfer].filter { services.payments.offers($0) }
    }

    func method(_ text: String?) throws -> PaymentMethod {
        guard let method = text.flatMap(PaymentMethod.init(rawValue:)), services.payments.offers(method) else {
            throw PortalRefusal(status: .unprocessableContent, key: "error_method")
        }
        return method
    }

    @Sendable func review(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let query = request.uri.queryParameters
        let msisdn = try await ownedLine(query.get("line"), account)
        let item = query.get("item") ?? ""
        let amount = query.get("amount") ?? ""
        let code = (query.get("promotionCode") ?? "").trimmingCharacters(in: .whitespaces)
        let method = try self.method(query.get("method"))
        let again = { (key: String, values: [String: String]) in
            try await self.rechargeForm(visitor, account: account, msisdn: msisdn, item: item, code: code, method: method.rawValue, amount: amount,
                                        status: .unprocessableContent, error: self.text(key, visitor, values))
        }
        let ordered: OrderItem
        do {
            ordered = try await orderItem(item, amount: amount, currency: try await services.ledger.line(msisdn).currency)
        } catch {
            let (key, values) = Self.amountMessage(error)
            return try await again(key, values)
        }
        let quoted: (OrderQuote, String?)
        do {
            quoted = try await quote(msisdn, ordered, code: code, method: method, visitor)
        } catch RechargeError.productNotFound {
            return try await again("error_product", [:])
        }
        let view = ReviewView.make(line: msisdn, item: item, method: method, code: code, codeApplied: quoted.1 == nil, quote: quoted.0,
                                   key: Self.randomToken(), amount: amount, locale(visitor))
        return page("review", visitor, title: "review_title", model: view, flash: PortalFlash(error: quoted.1))
    }

    /// The quote of `item` with the code entered; when the code does not apply, the price without it and why.
    func quote(_ msisdn: MSISDN, _ item: OrderItem, code: String, method: PaymentMethod, _ visitor: Visitor) async throws -> (OrderQuote, String?) {
        let now = clock()
        let payCurrency = services.payments.defaultCurrency(method)
        do {
            return (try await services.orders.quote(msisdn: msisdn, item: item, promotionCode: code.isEmpty ? nil : code, payCurrency: payCurrency, now: now), nil)
        } catch RechargeError.promotionUnavailable {
            return (try await services.orders.quote(msisdn: msisdn, item: item, promotionCode: nil, payCurrency: payCurrency, now: now),
                    text("error_promotion", visitor))
        }
    }

    /// What a recharge form's `item` (and `amount`, for the item `custom`) asks for, with a custom amount checked
    /// against the catalog's range in the line's `currency` (``CustomAmount``: throws its ``CustomAmountRefusal``).
    func orderItem(_ item: String, amount: String, currency: Currency) async throws -> OrderItem {
        guard item == RechargeView.customItem else { return .product(item) }
        return .amount(try CustomAmount.parse(amount, currency: currency, catalog: try await services.catalog.catalog()))
    }

    /// The locale key and values of a custom amount's refusal; any other error is a product not sold.
    static func amountMessage(_ error: any Error) -> (String, [String: String]) {
        guard let refusal = error as? CustomAmountRefusal else { return ("error_product", [:]) }
        switch refusal {
        case .notANumber: return ("amount_not_a_number", [:])
        case .tooManyDecimals(let allowed):
            return allowed == 0 ? ("amount_whole_only", [:]) : ("amount_too_many_decimals", ["decimals": String(allowed)])
        case .belowMinimum(let minimum): return ("amount_below_minimum", ["min": PortalLocale.money(minimum)])
        case .aboveMaximum(let maximum): return ("amount_above_maximum", ["max": PortalLocale.money(maximum)])
        case .notOffered: return ("amount_not_offered", [:])
        }
    }

    /// Creates the order (keyed by the token the review page carried, so pressing Pay twice makes one order)
    /// and sends the browser to the provider's page.
    @Sendable func pay(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let fields = try await form(request, visitor)
        let msisdn = try await ownedLine(fields["line"], account)
        let method = try self.method(fields["method"])
        let code = (fields["promotionCode"] ?? "").trimmingCharacters(in: .whitespaces)
        let token = fields["key"] ?? ""
        guard (20...64).contains(token.utf8.count), token.utf8.allSatisfy({ $0 == 0x2D || $0 == 0x5F || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) })
        else { throw PortalRefusal(status: .badRequest, key: "error_generic") }
        let item = try await orderItem(fields["item"] ?? "", amount: fields["amount"] ?? "", currency: try await services.ledger.line(msisdn).currency)
        let placed = try await OrderPlacement(orders: services.orderService, payments: services.payments).place(
            msisdn: msisdn, item: item, method: method, promotionCode: code.isEmpty ? nil : code, payCurrency: nil,
            stripeSession: method == .stripe, key: try IdempotencyKey("portal-\(account.id)-\(token)"), chinese: visitor.language == .simplifiedChinese)
        let result = "/orders/\(placed.order.id)"
        if let checkout = placed.checkout, checkout.type == "redirect", let url = checkout.url, placed.order.state == .awaitingPayment {
            // The sandbox's page comes back to the result page; a provider's page returns through its own return URL.
            return redirect(url.hasPrefix("/sandbox/") ? url + "?return=" + PortalForm.encode(result) : url)
        }
        return redirect(result)
    }

    func ownedOrder(_ id: String, _ account: Account) async throws -> RechargeOrder {
        let order = try await services.orders.order(id)
        guard try await accounts.owns(accountID: account.id, msisdn: order.msisdn) else { throw PortalRefusal.notFound }
        return order
    }

    @Sendable func orderPage(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let order = try await ownedOrder(request.pathSegment(), account)
        let summary = try await services.ledger.balance(order.msisdn, at: clock())
        let checkout = order.state == .awaitingPayment ? services.payments.checkout(for: order) : nil
        let view = OrderView.make(order, viewer: .subscriber(balance: Self.mainBalance(summary)), checkout: checkout, now: clock(), locale(visitor))
        return page("order", visitor, title: "order_title", model: view, refresh: view.waiting)
    }

    /// `{"state":"awaiting_payment"}`: what the order page's script polls while it waits, so the page reloads only
    /// when something changed (one indexed read, no balance, no rendering).
    @Sendable func orderState(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        return Self.stateResponse(try await ownedOrder(request.pathSegment(fromEnd: 1), account))
    }

    /// The subscriber's order page and a guest's share these answers (`/orders/{id}/…`, `/quick/orders/{token}/…`).
    static func stateResponse(_ order: RechargeOrder) -> Response {
        var json = JSONWriter(capacity: 48)
        json.object { json in json.field("state", order.state.rawValue) }
        return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }

    /// The wallet's QR code of an order awaiting payment as a PNG: saved to the phone's album, it is scanned from
    /// there in the wallet app (how one pays on the phone that shows the code). Drawn from the content kept with the
    /// order; no provider call. Anything else (paid, expired, not a wallet, not the account's) is not found.
    @Sendable func orderQRCode(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        return try qrCodeResponse(try await ownedOrder(request.pathSegment(fromEnd: 1), account))
    }

    func qrCodeResponse(_ order: RechargeOrder) throws -> Response {
        guard order.state == .awaitingPayment, let (_, code) = WalletCheckoutView.code(of: services.payments.checkout(for: order))
        else { throw PortalRefusal.notFound }
        return Response(status: .ok, headers: [.contentType: "image/png", .cacheControl: "private, no-store",
                                               .contentDisposition: "inline; filename=\"\(order.id).png\""],
                        body: .init(byteBuffer: ByteBuffer(bytes: code.png(scale: 8, quietZone: 4))))
    }

    @Sendable func orderReceipt(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let order = try await ownedOrder(request.pathSegment(fromEnd: 1), account)
        guard [.fulfilled, .refunded, .partiallyRefunded].contains(order.state) else { throw PortalRefusal.notFound }
        return page("receipt", visitor, title: "receipt_title", model: ReceiptView.order(order, catalog: try await services.catalog.catalog(), locale(visitor)))
    }

    // MARK: Vouchers

    @Sendable func redeemPage(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let msisdn = try await ownedLine(request.uri.queryParameters.get("line"), account)
        return page("redeem", visitor, title: "redeem_title", model: RedeemView(lines: LineOption.list(try await accounts.lines(accountID: account.id), selected: msisdn)))
    }

    /// Redeems a card by its number and PIN. The number is required here: the printed card carries both (the guide
    /// says "enter the card number and the password"), and the pair catches a PIN typed from the wrong card. A wrong pair is refused like a wrong PIN and counted the same
    /// for the lockouts (the store checks the pair in the redemption's transaction). A missing or mistyped number is
    /// refused before any lookup and counts nothing.
    @Sendable func redeem(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let fields = try await form(request, visitor)
        let msisdn = try await ownedLine(fields["line"], account)
        let lines = LineOption.list(try await accounts.lines(accountID: account.id), selected: msisdn)
        let typedSerial = String((fields["serial"] ?? "").prefix(40))
        guard let vouchers = services.vouchers else {
            return page("redeem", visitor, title: "redeem_title", status: .serviceUnavailable, model: RedeemView(lines: lines, serial: typedSerial),
                        flash: PortalFlash(error: text("error_vouchers_off", visitor)))
        }
        guard !typedSerial.allSatisfy({ $0 == " " || $0 == "-" }) else {
            return page("redeem", visitor, title: "redeem_title", status: .badRequest, model: RedeemView(lines: lines, serial: typedSerial),
                        flash: PortalFlash(error: text("redeem2_error_serial_required", visitor)))
        }
        do {
            let serial = try VoucherSerial.parse(typed: typedSerial)
            let redemption = try await vouchers.redeem(VoucherRedemptionAttempt(msisdn: msisdn, pin: fields["pin"] ?? "", serial: serial, channel: "portal",
                                                                                client: "account:\(account.id)"), now: clock())
            let summary = try await services.ledger.balance(msisdn, at: clock())
            let view = RedeemView.redeemed(lines: lines, line: msisdn, credited: redemption.credited, pack: redemption.pack,
                                           balance: Self.mainBalance(summary), locale(visitor))
            return page("redeem", visitor, title: "redeem_title", model: view)
        } catch {
            let (refusal, message) = message(for: error, visitor, logger: logger)
            var response = page("redeem", visitor, title: "redeem_title", status: refusal.status, model: RedeemView(lines: lines, serial: typedSerial),
                                flash: PortalFlash(error: message))
            if let seconds = refusal.retryAfter { response.headers[.retryAfter] = String(seconds) }
            return response
        }
    }
}

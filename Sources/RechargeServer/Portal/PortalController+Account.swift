import Foundation
import Hummingbird
import RechargeCore
import RechargeOrders
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
        router.get("redeem", use: wrap(redeemPage))
        router.post("redeem", use: wrap(redeem))
        router.get("history", use: wrap(historyPage))
        router.get("history.csv", use: wrap(historyCSV))
        router.get("history/{operation}/receipt", use: wrap(operationReceipt))
    }

    /// A low balance and anything ending within this long is flagged on the dashboard.
    static let warningWindow: TimeInterval = 7 * 86_400

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

    func lineOptions(_ lines: [MSISDN], selected: MSISDN?) -> [[String: Any]] {
        lines.map { ["msisdn": $0.e164, "selected": $0 == selected] }
    }

    static func money(_ money: Money) -> String { "\(money.decimalString) \(money.currency.code)" }

    /// The valid main-currency balance of a line: what is left, not counting a postpaid line's credit limit.
    static func mainBalance(_ summary: BalanceSummary) -> Money {
        let total = summary.totals.first { $0.kind == .monetary && $0.unit == summary.line.currency.code }
        return Money(micros: total?.remaining ?? 0, currency: summary.line.currency)
    }

    /// A bucket amount for people: money with its currency, data in GB or MB with two decimals (integer
    /// arithmetic), voice in minutes, SMS as a count.
    func quantity(_ amount: Int64, kind: BucketKind, unit: String, _ language: NotificationLanguage) -> String {
        switch kind {
        case .monetary:
            guard let currency = try? Currency(code: unit) else { return "\(amount) \(unit)" }
            return Self.money(Money(micros: amount, currency: currency))
        case .data:
            let (size, name): (Int64, String) = amount >= 1 << 30 ? (1 << 30, "GB") : (1 << 20, "MB")
            let hundredths = amount.multipliedReportingOverflow(by: 100).overflow ? amount / size * 100 : amount * 100 / size
            let fraction = hundredths % 100
            return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction) \(name)"
        case .voice:
            let minutes = amount / 60, seconds = amount % 60
            return resources.strings.text(seconds == 0 ? "unit_minutes" : "unit_minutes_seconds", language,
                                          ["minutes": String(minutes), "seconds": String(seconds)])
        case .sms:
            return resources.strings.text("unit_sms", language, ["count": String(amount)])
        }
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
        let language = visitor.language
        var lines: [[String: Any]] = []
        for msisdn in try await accounts.lines(accountID: account.id) {
            let summary = try await services.ledger.balance(msisdn, at: now)
            let granted = try await services.ledger.grantedAmounts(msisdn)
            let balance = Self.mainBalance(summary)
            let threshold = try await services.notificationPreferences.preferences(msisdn).lowBalanceThreshold
            var warnings: [String] = []
            if summary.line.type == .prepaid, balance.currency == threshold.currency, balance.micros < threshold.micros {
                warnings.append(text("warning_low_balance", visitor, ["balance": Self.money(balance), "threshold": Self.money(threshold)]))
            }
            var buckets: [[String: Any]] = []
            for bucket in summary.buckets where bucket.isValid(at: now) {
                let total = max(granted[bucket.id] ?? bucket.remaining, bucket.remaining, 1)
                let percent = Int(bucket.remaining.multipliedReportingOverflow(by: 100).overflow ? bucket.remaining / (total / 100 + 1) : bucket.remaining * 100 / total)
                let name = bucket.name ?? text(bucket.isMain ? "bucket_main" : "bucket_kind_\(bucket.kind.rawValue)", visitor)
                var ending = false
                if let until = bucket.validUntil, until.timeIntervalSince(now) <= Self.warningWindow {
                    ending = true
                    let days = max(0, Int((until.timeIntervalSince(now) / 86_400).rounded(.up)))
                    warnings.append(text("warning_bucket_ending", visitor, ["name": name, "days": String(days), "date": Self.day(until)]))
                }
                // The main balance is the figure above the buckets; a bar of it against all it was ever given says nothing.
                if bucket.isMain { continue }
                buckets.append([
                    "name": name,
                    "kind": bucket.kind.rawValue,
                    "remaining": quantity(bucket.remaining, kind: bucket.kind, unit: bucket.unit, language),
                    "granted": quantity(total, kind: bucket.kind, unit: bucket.unit, language),
                    "percent": min(100, max(0, percent)),
                    "validity": bucket.validUntil.map { text("valid_until", visitor, ["date": Self.day($0)]) } ?? text("valid_no_end", visitor),
                    "ending": ending,
                ])
            }
            lines.append([
                "msisdn": msisdn.e164,
                "query": PortalForm.encode(msisdn.e164),
                "type": text("line_type_\(summary.line.type.rawValue)", visitor),
                "status": text("line_status_\(summary.line.status.rawValue)", visitor),
                "active": summary.line.status == .active,
                "balance": Self.money(balance),
                "buckets": buckets,
                "hasBuckets": !buckets.isEmpty,
                "warnings": warnings,
                "hasWarnings": !warnings.isEmpty,
            ])
        }
        return page("dashboard", visitor, title: "dashboard_title", values: ["lines": lines, "noLines": lines.isEmpty])
    }

    // MARK: Recharge

    @Sendable func rechargePage(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let query = request.uri.queryParameters
        let msisdn = try await ownedLine(query.get("line"), account)
        return try await rechargeForm(visitor, account: account, msisdn: msisdn, item: query.get("item"), code: query.get("promotionCode") ?? "",
                                      method: query.get("method"))
    }

    func rechargeForm(_ visitor: Visitor, account: Account, msisdn: MSISDN, item selectedItem: String?, code: String, method: String?,
                      status: HTTPResponse.Status = .ok, error: String? = nil) async throws -> Response {
        let line = try await services.ledger.line(msisdn)
        let catalog = try await services.catalog.catalog()
        var topUps: [[String: Any]] = []
        var packs: [[String: Any]] = []
        for product in catalog.products where product.active && product.kind != .plan {
            guard let price = product.prices[line.currency] else { continue }
            var item: [String: Any] = [
                "code": product.code,
                "name": product.names[visitor.language.rawValue] ?? product.names["en"] ?? product.code,
                "price": Self.money(price),
                "checked": product.code == selectedItem,
            ]
            if product.kind == .pack {
                item["allowances"] = product.allowances.map { quantity($0.amount, kind: $0.kind, unit: $0.kind == .monetary ? line.currency.code : "", visitor.language) }
                    .joined(separator: " · ")
                item["validity"] = product.validityDays.map { text("validity_days", visitor, ["days": String($0)]) } ?? ""
                if let coverage = product.coverage {
                    item["coverage"] = text("coverage", visitor, ["name": coverage.name, "countries": coverage.countries.joined(separator: ", ")])
                }
                if product.autoRenew { item["renews"] = text("pack_renews", visitor) }
                packs.append(item)
            } else {
                topUps.append(item)
            }
        }
        if selectedItem == nil, var first = topUps.first {
            first["checked"] = true
            topUps[0] = first
        }
        let methods = offeredMethods.enumerated().map { index, offered -> [String: Any] in
            ["value": offered.rawValue, "label": text("method_\(offered.rawValue)", visitor), "checked": method == nil ? index == 0 : method == offered.rawValue]
        }
        let lines = try await accounts.lines(accountID: account.id)
        return page("recharge", visitor, title: "recharge_title", status: status, values: [
            "lines": lineOptions(lines, selected: msisdn), "topUps": topUps, "packs": packs, "hasPacks": !packs.isEmpty,
            "methods": methods, "promotionCode": code,
            // Whenever the sandbox is among the methods, the page says that test payments are offered.
            "testPayments": offeredMethods.contains { $0.isTestPayment },
        ], error: error)
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
        let code = (query.get("promotionCode") ?? "").trimmingCharacters(in: .whitespaces)
        let method = try self.method(query.get("method"))
        let now = clock()
        let payCurrency = services.payments.defaultCurrency(method)
        var error: String?
        var quote: OrderQuote
        do {
            quote = try await services.orders.quote(msisdn: msisdn, item: .product(item), promotionCode: code.isEmpty ? nil : code, payCurrency: payCurrency, now: now)
        } catch RechargeError.promotionUnavailable {
            // The price without the code, and why the code did not apply.
            error = text("error_promotion", visitor)
            quote = try await services.orders.quote(msisdn: msisdn, item: .product(item), promotionCode: nil, payCurrency: payCurrency, now: now)
        } catch RechargeError.productNotFound {
            return try await rechargeForm(visitor, account: account, msisdn: msisdn, item: nil, code: code, method: method.rawValue,
                                          status: .unprocessableContent, error: text("error_product", visitor))
        }
        var values: [String: Any] = [
            "line": msisdn.e164, "item": item, "method": method.rawValue, "methodLabel": text("method_\(method.rawValue)", visitor),
            "promotionCode": code, "appliedCode": error == nil ? code : "",
            "itemName": quote.names[visitor.language.rawValue] ?? quote.names["en"] ?? item,
            "price": Self.money(quote.price),
            "key": Self.randomToken(),
        ]
        if let discount = quote.discount {
            values["listPrice"] = Self.money(quote.listPrice)
            values["discount"] = Self.money(discount)
        }
        if let credit = quote.credit { values["credit"] = Self.money(credit) }
        if let bonus = quote.bonus {
            values["bonus"] = Self.money(bonus)
            values["bonusValidity"] = quote.bonusValidityDays.map { text("validity_days", visitor, ["days": String($0)]) } ?? ""
        }
        if !quote.allowances.isEmpty {
            values["allowances"] = quote.allowances.map { quantity($0.amount, kind: $0.kind, unit: "", visitor.language) }.joined(separator: " · ")
        }
        if let days = quote.validityDays { values["validity"] = text("validity_days", visitor, ["days": String(days)]) }
        return page("review", visitor, title: "review_title", values: values, error: error)
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
        let placed = try await OrderPlacement(orders: services.orderService, payments: services.payments).place(
            msisdn: msisdn, item: .product(fields["item"] ?? ""), method: method, promotionCode: code.isEmpty ? nil : code, payCurrency: nil,
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
        let order = try await ownedOrder(request.uri.path.split(separator: "/").last.map(String.init) ?? "", account)
        let summary = try await services.ledger.balance(order.msisdn, at: clock())
        var values: [String: Any] = [
            "id": order.id, "state": order.state.rawValue, "stateText": text("order_state_\(order.state.rawValue)", visitor),
            "line": order.msisdn.e164, "lineQuery": PortalForm.encode(order.msisdn.e164),
            "itemName": order.quote.names[visitor.language.rawValue] ?? order.quote.names["en"] ?? "",
            "price": Self.money(order.quote.price), "method": text("method_\(order.paymentMethod.rawValue)", visitor),
            "testPayment": order.isTestPayment,
            "balance": Self.money(Self.mainBalance(summary)),
            "done": [.fulfilled, .refunded, .partiallyRefunded].contains(order.state),
            "waiting": [.created, .awaitingPayment, .paid].contains(order.state),
            "retry": [.failed, .expired, .cancelled].contains(order.state),
        ]
        if order.state == .awaitingPayment, let checkout = services.payments.checkout(for: order) {
            switch checkout.type {
            case "bank_transfer":
                values["bank"] = ["account": checkout.account ?? "", "accountName": checkout.accountName ?? "", "bankName": checkout.bankName ?? "",
                                  "reference": checkout.reference ?? ""]
                values["waiting"] = false   // a transfer takes days: no refreshing
            case "redirect":
                if let url = checkout.url { values["payURL"] = url.hasPrefix("/sandbox/") ? url + "?return=" + PortalForm.encode("/orders/\(order.id)") : url }
            default:
                break
            }
        }
        return page("order", visitor, title: "order_title", values: values.merging(["refresh": values["waiting"] as? Bool ?? false]) { $1 })
    }

    @Sendable func orderReceipt(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let parts = request.uri.path.split(separator: "/")
        let order = try await ownedOrder(parts.count >= 2 ? String(parts[parts.count - 2]) : "", account)
        guard [.fulfilled, .refunded, .partiallyRefunded].contains(order.state) else { throw PortalRefusal.notFound }
        let receipt = ReceiptOutput(order)
        let language = visitor.language
        func row(_ key: String, _ value: String?) -> [String: Any]? { value.map { ["label": text(key, visitor), "value": $0] } }
        func money(_ output: MoneyOutput?) -> String? { output.map { "\($0.value) \($0.currency)" } }
        let allowances = receipt.allowances.map { quantity($0.amount, kind: $0.kind, unit: "", language) }.joined(separator: " · ")
        let rows: [[String: Any]] = [
            row("receipt_number", receipt.receiptNumber), row("receipt_order", receipt.order), row("receipt_line", receipt.msisdn),
            row("receipt_item", receipt.description[language.rawValue] ?? receipt.description["en"]),
            row("receipt_method", text("method_\(receipt.paymentMethod.rawValue)", visitor)), row("receipt_reference", receipt.providerReference),
            row("receipt_paid", money(receipt.paid)), receipt.discount == nil ? nil : row("receipt_list_price", money(receipt.listPrice)),
            row("receipt_discount", money(receipt.discount)), row("receipt_credited", money(receipt.credited)), row("receipt_bonus", money(receipt.bonus)),
            receipt.promotions.isEmpty ? nil : row("receipt_promotions", receipt.promotions.joined(separator: ", ")),
            allowances.isEmpty ? nil : row("receipt_allowances", allowances),
            row("receipt_validity", receipt.validityDays.map { text("validity_days", visitor, ["days": String($0)]) }),
            row("receipt_balance_after", money(receipt.balanceAfter)), row("receipt_paid_at", order.paidAt.map(Self.minute) ?? receipt.paidAt),
            row("receipt_state", text("order_state_\(receipt.state.rawValue)", visitor)),
        ].compactMap { $0 }
        return page("receipt", visitor, title: "receipt_title", values: ["rows": rows, "heading": text("receipt_title", visitor), "back": "/orders/\(order.id)",
                                                                        "testPayment": receipt.testPayment])
    }

    // MARK: Vouchers

    @Sendable func redeemPage(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let msisdn = try await ownedLine(request.uri.queryParameters.get("line"), account)
        return page("redeem", visitor, title: "redeem_title", values: ["lines": lineOptions(try await accounts.lines(accountID: account.id), selected: msisdn)])
    }

    @Sendable func redeem(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let fields = try await form(request, visitor)
        let msisdn = try await ownedLine(fields["line"], account)
        let lines = lineOptions(try await accounts.lines(accountID: account.id), selected: msisdn)
        guard let vouchers = services.vouchers else {
            return page("redeem", visitor, title: "redeem_title", status: .serviceUnavailable, values: ["lines": lines], error: text("error_vouchers_off", visitor))
        }
        do {
            let redemption = try await vouchers.redeem(VoucherRedemptionAttempt(msisdn: msisdn, pin: fields["pin"] ?? "", serial: nil, channel: "portal",
                                                                                client: "account:\(account.id)"), now: clock())
            let summary = try await services.ledger.balance(msisdn, at: clock())
            return page("redeem", visitor, title: "redeem_title", values: [
                "lines": lines, "redeemed": true,
                "result": text(redemption.pack == nil ? "redeem_done" : "redeem_done_pack", visitor,
                               ["amount": Self.money(redemption.credited), "line": msisdn.e164, "pack": redemption.pack ?? ""]),
                "balance": Self.money(Self.mainBalance(summary)),
            ])
        } catch {
            let (refusal, message) = message(for: error, visitor, logger: logger)
            var response = page("redeem", visitor, title: "redeem_title", status: refusal.status, values: ["lines": lines], error: message)
            if let seconds = refusal.retryAfter { response.headers[.retryAfter] = String(seconds) }
            return response
        }
    }
}

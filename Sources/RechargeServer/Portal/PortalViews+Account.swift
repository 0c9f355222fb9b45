import Foundation
import Mustache
import RechargeCore
import RechargeStore

/// The view models of the signed-in pages: dashboard, recharge, review, order, receipt and redemption. Each is
/// built by a pure function from what the handler read from the stores and the visitor's ``PortalLocale``.

/// `dashboard.mustache`: each of the account's lines with its balance, buckets and warnings.
struct DashboardView: Sendable {
    struct Bucket: Sendable {
        let name: String
        let kind: String
        let remaining: String
        let granted: String
        let percent: Int
        let validity: String
        let ending: Bool
    }

    struct Line: Sendable {
        let msisdn: String
        let query: String
        let type: String
        let status: String
        let active: Bool
        let balance: String
        let buckets: [Bucket]
        let hasBuckets: Bool
        let warnings: [String]
        let hasWarnings: Bool
        /// The line's packs that renew, or would if switched back on: each with its switch.
        var renewals: [Renewal] = []
        var hasRenewals = false
    }

    /// A pack's auto-renew switch: what it does now, and the form that flips it (`POST /renewals`, `on` = `next`).
    struct Renewal: Sendable {
        let id: String
        let line: String
        let name: String
        /// `true` or `false`: the switch's state, for `aria-checked` and `data-on`.
        let on: String
        let status: String
        let button: String
        let next: String

        /// The renewals worth a switch: renewing, or turned off while the pack's period lasts (a refunded pack's is
        /// off for good, and a failed one has ended: neither is shown). The pack's name in the page's language from
        /// the catalog, else the name it was bought under.
        static func list(_ renewals: [PackRenewalStore.Renewal], line: MSISDN, catalog: Catalog, now: Date, _ locale: PortalLocale) -> [Renewal] {
            renewals.compactMap { renewal in
                let on: Bool
                switch renewal.state {
                case .active: on = true
                case .cancelled:
                    guard !renewal.refunded, renewal.validUntil > now else { return nil }
                    on = false
                case .failed: return nil
                }
                let name = catalog.product(renewal.productCode).flatMap { locale.name($0.names) } ?? renewal.name
                let date = PortalController.day(renewal.validUntil)
                return Renewal(id: renewal.id, line: line.e164, name: name, on: on ? "true" : "false",
                               status: locale.text(on ? "renew_status_on" : "renew_status_off", ["date": date]),
                               button: locale.text(on ? "renew_turn_off" : "renew_turn_on"), next: on ? "0" : "1")
            }
        }
    }

    let lines: [Line]
    let noLines: Bool

    init(lines: [Line]) {
        self.lines = lines
        self.noLines = lines.isEmpty
    }

    /// A low balance and anything ending within this long is flagged.
    static let warningWindow: TimeInterval = 7 * 86_400

    /// One line: `granted` is what each bucket was given (its bar's full length), `threshold` the low-balance mark.
    /// `catalog` names the packs and promotions in the visitor's language (a bucket keeps the English name it was granted under).
    static func line(_ msisdn: MSISDN, _ summary: BalanceSummary, granted: [Int64: Int64], threshold: Money, renewals: [Renewal] = [], now: Date,
                     catalog: Catalog? = nil,
                     _ locale: PortalLocale) -> Line {
        let balance = PortalController.mainBalance(summary)
        var warnings: [String] = []
        if summary.line.barredAt != nil { warnings.append(locale.text("warning_barred")) }
        if summary.line.type == .prepaid, balance.currency == threshold.currency, balance.micros < threshold.micros {
            warnings.append(locale.text("warning_low_balance", ["balance": PortalLocale.money(balance), "threshold": PortalLocale.money(threshold)]))
        }
        var buckets: [Bucket] = []
        for bucket in summary.buckets where bucket.isValid(at: now) {
            let name = bucket.name.map { catalog?.displayNames(ofBucket: $0).flatMap(locale.name) ?? $0 }
                ?? locale.text(bucket.isMain ? "bucket_main" : "bucket_kind_\(bucket.kind.rawValue)")
            let ending = bucket.validUntil.map { $0.timeIntervalSince(now) <= warningWindow } ?? false
            if ending, let until = bucket.validUntil {
                let days = max(0, Int((until.timeIntervalSince(now) / 86_400).rounded(.up)))
                warnings.append(locale.text("warning_bucket_ending", ["name": name, "days": String(days), "date": PortalController.day(until)]))
            }
            // The main balance is the figure above the buckets; a bar of it against all it was ever given says nothing.
            if bucket.isMain { continue }
            let total = max(granted[bucket.id] ?? bucket.remaining, bucket.remaining, 1)
            let overflows = bucket.remaining.multipliedReportingOverflow(by: 100).overflow
            let percent = Int(overflows ? bucket.remaining / (total / 100 + 1) : bucket.remaining * 100 / total)
            buckets.append(Bucket(
                name: name, kind: bucket.kind.rawValue, remaining: locale.quantity(bucket.remaining, kind: bucket.kind, unit: bucket.unit),
                granted: locale.quantity(total, kind: bucket.kind, unit: bucket.unit), percent: min(100, max(0, percent)),
                validity: bucket.validUntil.map { locale.text("valid_until", ["date": PortalController.day($0)]) } ?? locale.text("valid_no_end"),
                ending: ending))
        }
        return Line(msisdn: msisdn.e164, query: PortalForm.encode(msisdn.e164), type: locale.text("line_type_\(summary.line.type.rawValue)"),
                    status: locale.text("line_status_\(summary.line.status.rawValue)"), active: summary.line.status == .active,
                    balance: PortalLocale.money(balance), buckets: buckets, hasBuckets: !buckets.isEmpty, warnings: warnings, hasWarnings: !warnings.isEmpty,
                    renewals: renewals, hasRenewals: !renewals.isEmpty)
    }
}

/// `recharge.mustache`: the line, the top-ups and packs in its currency, the code and the payment methods.
struct RechargeView: Sendable {
    struct Item: Sendable {
        let code: String
        let name: String
        let price: String
        var checked: Bool
        /// The catalog's description in the page's language (else English), when it has one.
        var description: String? = nil
        /// A pack's: what it gives, for how long, where, and whether it renews.
        var allowances: String? = nil
        var validity: String? = nil
        var coverage: String? = nil
        var renews: String? = nil
    }

    struct Method: Sendable {
        let value: String
        let label: String
        let checked: Bool
    }

    /// A custom amount in the line's currency, within the catalog's range (item `custom`).
    struct Custom: Sendable {
        let currency: String
        let value: String
        /// "From 5.00 to 500.00 USD".
        let range: String
        let checked: Bool
    }

    /// A guest's page (quick recharge): the number typed on the first page (no line picker) and where the
    /// success message goes.
    struct Guest: Sendable {
        let number: String
        let contact: String
    }

    let lines: [LineOption]
    let topUps: [Item]
    let packs: [Item]
    let hasPacks: Bool
    let methods: [Method]
    let promotionCode: String
    /// Whenever the sandbox is among the methods, the page says that test payments are offered.
    let testPayments: Bool
    let custom: Custom?
    let guest: Guest?
    /// Where the form goes: `/recharge/review`, or `/quick/review` for a guest.
    let action: String

    /// The item value of a custom amount.
    static let customItem = "custom"

    /// `selected`: the item chosen before (else the first top-up); `method`: the method chosen before (else the first);
    /// `customRange`: the catalog's custom amounts in `currency` (none: no amount field); `amount`: the amount typed before.
    static func make(lines: [LineOption], products: [Product], currency: Currency, selected: String?, code: String, methods offered: [PaymentMethod],
                     method: String?, customRange: ClosedRange<Int64>? = nil, amount: String = "", guest: Guest? = nil,
                     _ locale: PortalLocale) -> RechargeView {
        var topUps: [Item] = []
        var packs: [Item] = []
        for product in products where product.active && product.kind != .plan {
            guard let price = product.prices[currency] else { continue }
            var item = Item(code: product.code, name: locale.name(product.names) ?? product.code, price: PortalLocale.money(price),
                            checked: product.code == selected, description: product.description(language: locale.language.rawValue))
            guard product.kind == .pack else {
                topUps.append(item)
                continue
            }
            item.allowances = product.allowances.map { locale.quantity($0.amount, kind: $0.kind, unit: $0.kind == .monetary ? currency.code : "") }
                .joined(separator: " · ")
            item.validity = product.validityDays.map(locale.days) ?? ""
            item.coverage = product.coverage.map { locale.text("coverage", ["name": $0.name, "countries": $0.countries.joined(separator: ", ")]) }
            item.renews = product.autoRenew ? locale.text("pack_renews") : nil
            packs.append(item)
        }
        if selected == nil, !topUps.isEmpty { topUps[0].checked = true }
        let custom = customRange.map { range in
            Custom(currency: currency.code, value: amount,
                   range: locale.text("amount_range", ["min": PortalLocale.money(Money(micros: range.lowerBound, currency: currency)),
                                                       "max": PortalLocale.money(Money(micros: range.upperBound, currency: currency))]),
                   checked: selected == customItem || (topUps.isEmpty && selected == nil))
        }
        let methods = offered.enumerated().map { index, offered in
            Method(value: offered.rawValue, label: locale.text("method_\(offered.rawValue)"),
                   checked: method == nil ? index == 0 : method == offered.rawValue)
        }
        return RechargeView(lines: lines, topUps: topUps, packs: packs, hasPacks: !packs.isEmpty, methods: methods, promotionCode: code,
                            testPayments: offered.contains { $0.isTestPayment }, custom: custom, guest: guest,
                            action: guest == nil ? "/recharge/review" : "/quick/review")
    }
}

/// `review.mustache`: the quote, the code form and the pay form (with its one-time order key).
struct ReviewView: Sendable {
    let line: String
    let item: String
    let method: String
    let methodLabel: String
    let promotionCode: String
    /// The code the quote applied: empty when it did not apply.
    let appliedCode: String
    let itemName: String
    let price: String
    let key: String
    let listPrice: String?
    let discount: String?
    let credit: String?
    let bonus: String?
    let bonusValidity: String?
    let allowances: String?
    let validity: String?
    /// The custom amount as typed (item `custom`), carried to Pay; empty for a catalog item.
    let amount: String
    /// A guest's review: the number to check once more, and where the success message goes.
    let guest: Guest?
    /// Where the code form, the Pay form and "change" go: the signed-in recharge, or the guest's quick recharge.
    let reviewAction: String
    let payAction: String
    let changeURL: String

    struct Guest: Sendable {
        let contact: String
        /// How the message is sent, for the page: "SMS to +1…", "Email to …"; nil when none was asked for.
        let contactText: String?
    }
    /// Buckets a promotion adds (bonus data, minutes, SMS), under the promotion's name.
    let bonusName: String?
    let bonusAllowances: String?

    static func make(line: MSISDN, item: String, method: PaymentMethod, code: String, codeApplied: Bool, quote: OrderQuote, key: String,
                     amount: String = "", guest: Guest? = nil, _ locale: PortalLocale) -> ReviewView {
        let lineQuery = PortalForm.encode(line.e164)
        return ReviewView(
            line: line.e164, item: item, method: method.rawValue, methodLabel: locale.text("method_\(method.rawValue)"), promotionCode: code,
            appliedCode: codeApplied ? code : "", itemName: locale.name(quote.names) ?? item, price: PortalLocale.money(quote.price), key: key,
            listPrice: quote.discount == nil ? nil : PortalLocale.money(quote.listPrice), discount: quote.discount.map(PortalLocale.money),
            credit: quote.credit.map(PortalLocale.money), bonus: quote.bonus.map(PortalLocale.money),
            bonusValidity: quote.bonus == nil ? nil : quote.bonusValidityDays.map(locale.days) ?? "",
            allowances: quote.allowances.isEmpty ? nil : quote.allowances.map { locale.quantity($0.amount, kind: $0.kind, unit: "") }.joined(separator: " · "),
            validity: quote.validityDays.map(locale.days), amount: amount, guest: guest,
            reviewAction: guest == nil ? "/recharge/review" : "/quick/review", payAction: guest == nil ? "/recharge/pay" : "/quick/pay",
            changeURL: guest.map { "/quick/choose?number=\(lineQuery)&confirm=\(lineQuery)&contact=\(PortalForm.encode($0.contact))" } ?? "/recharge?line=\(lineQuery)",
            bonusName: quote.bonusNames.flatMap(locale.name), bonusAllowances: quote.bonusAllowances.map(locale.bonusAllowances))
    }
}

/// `order.mustache`: an order's state, what it bought, and how to finish paying for it.
struct OrderView: Sendable {
    struct Bank: Sendable {
        let account: String
        let accountName: String
        let bankName: String
        let reference: String
    }

    let id: String
    let state: String
    let stateText: String
    let line: String
    let lineQuery: String
    let itemName: String
    let price: String
    let method: String
    let testPayment: Bool
    /// The line's balance now: for the line's subscriber only, nil on a guest's page.
    let balance: String?
    let done: Bool
    /// Still waiting for the payment: the page follows the order (not for a bank transfer, which takes days).
    let waiting: Bool
    /// Where portal.js asks for the order's state every 2 s while waiting, reloading the page when it changes (without
    /// a script, the page reloads itself every 2 s instead).
    let pollURL: String?
    let retry: Bool
    let bank: Bank?
    let payURL: String?
    /// Alipay or WeChat Pay: the QR code to scan, while the order awaits payment.
    let wallet: WalletCheckoutView?
    /// A wallet order that expired unpaid: its code can no longer be paid, and nothing was charged.
    let walletExpired: Bool
    /// A guest's page: no balance, no account links; the receipt and "try again" through the guest's own pages.
    let guest: Bool
    let receiptURL: String
    let retryURL: String
    let bonusName: String?
    let bonusAllowances: String?

    /// Where the page is reached: the signed-in `/orders/{id}`, or a guest's signed link (``GuestOrderLink``).
    enum Viewer {
        case subscriber(balance: Money)
        case guest(orderURL: String)
    }

    static func make(_ order: RechargeOrder, viewer: Viewer, checkout: CheckoutOutput?, now: Date, _ locale: PortalLocale) -> OrderView {
        let orderURL: String
        let balance: Money?
        switch viewer {
        case .subscriber(let money):
            orderURL = "/orders/\(order.id)"
            balance = money
        case .guest(let url):
            orderURL = url
            balance = nil
        }
        let lineQuery = PortalForm.encode(order.msisdn.e164)
        let awaiting = order.state == .awaitingPayment ? checkout : nil
        let bank = awaiting.flatMap { checkout in
            checkout.type == "bank_transfer" ? Bank(account: checkout.account ?? "", accountName: checkout.accountName ?? "",
                                                    bankName: checkout.bankName ?? "", reference: checkout.reference ?? "") : nil
        }
        let payURL = awaiting.flatMap { checkout in
            checkout.type == "redirect" ? checkout.url.map { $0.hasPrefix("/sandbox/") ? $0 + "?return=" + PortalForm.encode(orderURL) : $0 } : nil
        }
        let waiting = bank == nil && [.created, .awaitingPayment, .paid].contains(order.state)
        return OrderView(
            id: order.id, state: order.state.rawValue, stateText: locale.text(balance == nil && order.state == .fulfilled ? "quick_order_state_fulfilled" : "order_state_\(order.state.rawValue)"), line: order.msisdn.e164,
            lineQuery: lineQuery, itemName: locale.name(order.quote.names) ?? "", price: PortalLocale.money(order.quote.price),
            method: locale.text("method_\(order.paymentMethod.rawValue)"), testPayment: order.isTestPayment, balance: balance.map(PortalLocale.money),
            done: [.fulfilled, .refunded, .partiallyRefunded].contains(order.state),
            waiting: waiting, pollURL: waiting ? orderURL + "/state" : nil,
            retry: [.failed, .expired, .cancelled].contains(order.state), bank: bank, payURL: payURL,
            wallet: awaiting.flatMap { WalletCheckoutView.make(order, checkout: $0, orderURL: orderURL, now: now, locale) },
            walletExpired: order.state == .expired && WalletCheckoutView.isWallet(order.paymentMethod), guest: balance == nil,
            receiptURL: orderURL + "/receipt",
            retryURL: balance == nil ? "/quick/choose?number=\(lineQuery)&confirm=\(lineQuery)" : "/recharge?line=\(lineQuery)",
            bonusName: order.quote.bonusNames.flatMap(locale.name), bonusAllowances: order.quote.bonusAllowances.map(locale.bonusAllowances))
    }
}

/// `redeem.mustache`: the line picker, the card number and PIN fields, and what the last voucher gave. After a
/// refusal the card number typed is shown again (it is printed openly on the card); the PIN never is.
struct RedeemView: Sendable {
    let lines: [LineOption]
    let redeemed: Bool
    let result: String?
    let balance: String?
    let serial: String

    init(lines: [LineOption], serial: String = "") {
        self.init(lines: lines, redeemed: false, result: nil, balance: nil, serial: serial)
    }

    init(lines: [LineOption], redeemed: Bool, result: String?, balance: String?, serial: String = "") {
        self.lines = lines
        self.redeemed = redeemed
        self.result = result
        self.balance = balance
        self.serial = serial
    }

    static func redeemed(lines: [LineOption], line: MSISDN, credited: Money, pack: String?, balance: Money, _ locale: PortalLocale) -> RedeemView {
        let result = locale.text(pack == nil ? "redeem_done" : "redeem_done_pack",
                                 ["amount": PortalLocale.money(credited), "line": line.e164, "pack": pack ?? ""])
        return RedeemView(lines: lines, redeemed: true, result: result, balance: PortalLocale.money(balance))
    }
}

// What a template shows in a loop is looked up by name, not by reflection: a `Mirror` per lookup made a history
// page of 100 operations three times slower to render than the dictionaries it replaced.

extension DashboardView.Line: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "msisdn": self.msisdn
        case "query": self.query
        case "type": self.type
        case "status": self.status
        case "active": self.active
        case "balance": self.balance
        case "buckets": self.buckets
        case "hasBuckets": self.hasBuckets
        case "warnings": self.warnings
        case "hasWarnings": self.hasWarnings
        case "renewals": self.renewals
        case "hasRenewals": self.hasRenewals
        default: nil
        }
    }
}

extension DashboardView.Bucket: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "name": self.name
        case "kind": self.kind
        case "remaining": self.remaining
        case "granted": self.granted
        case "percent": self.percent
        case "validity": self.validity
        case "ending": self.ending
        default: nil
        }
    }
}

extension RechargeView.Item: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "code": self.code
        case "name": self.name
        case "price": self.price
        case "checked": self.checked
        case "description": self.description
        case "allowances": self.allowances
        case "validity": self.validity
        case "coverage": self.coverage
        case "renews": self.renews
        default: nil
        }
    }
}

extension RechargeView.Method: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "value": self.value
        case "label": self.label
        case "checked": self.checked
        default: nil
        }
    }
}

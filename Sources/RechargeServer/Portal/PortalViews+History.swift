import Foundation
import Mustache
import RechargeCore
import RechargeStore

/// The view models of the history, receipt and settings pages, built by pure functions from what the handler
/// read and the visitor's ``PortalLocale``.

/// `history.mustache`: the filter form and the operations it matches.
struct HistoryView: Sendable {
    struct Operation: Sendable {
        let id: String
        let date: String
        let type: String
        let channel: String
        let reference: String
        let amounts: String
        let credit: Bool
        let order: Bool
        let testPayment: Bool
    }

    /// One rated use: a call, a message, a data session, or an imported record.
    struct Usage: Sendable {
        let date: String
        let what: String
        let place: String?
        let quantity: String
        let fromPacks: String?
        let charge: String
        let free: Bool
    }

    let lines: [LineOption]
    let line: String
    let lineQuery: String
    let from: String
    let to: String
    let types: [PortalOption]
    let operations: [Operation]
    let empty: Bool
    let csv: String
    var usage: [Usage] = []
    var hasUsage = false

    /// The itemized usage rows (what a bill lists): what it was, where, how much, what packs paid, what it cost.
    static func usage(_ items: [ChargingStore.UsageItem], _ locale: PortalLocale) -> [Usage] {
        items.map { item in
            let kind: BucketKind? = switch item.service {
            case "voice": .voice
            case "data": .data
            case "sms": .sms
            default: nil
            }
            let number = item.destination.map(UsageEvent.display) ?? ""
            let what: String = switch item.service {
            case "voice": locale.text("usage_call_to", ["number": number])
            case "sms": locale.text("usage_sms_to", ["number": number])
            case "data": locale.text("usage_data")
            default: locale.text("usage_service", ["service": item.service])
            }
            let quantity = kind.map { locale.quantity(item.units, kind: $0, unit: $0.unit(currency: .usd)) } ?? String(item.units)
            let fromPacks = item.bucketUnits > 0 ? kind.map { locale.text("usage_from_packs", ["amount": locale.quantity(item.bucketUnits, kind: $0, unit: $0.unit(currency: .usd))]) } : nil
            let currency = (try? Currency(code: item.currency)) ?? .usd
            return Usage(date: PortalController.minute(item.startedAt), what: what,
                         place: item.visitedCountry.map { locale.text("usage_roaming", ["country": $0]) }, quantity: quantity, fromPacks: fromPacks ?? nil,
                         charge: item.free ? locale.text("usage_free") : PortalLocale.money(Money(micros: item.charge, currency: currency)), free: item.free)
        }
    }

    static func make(lines: [MSISDN], filter: PortalController.HistoryFilter, operations: [LedgerOperation], testPayments: Set<String>,
                     _ locale: PortalLocale) -> HistoryView {
        let rows = operations.map { operation($0, testPayments: testPayments, locale) }
        let types = ["all", "top_up", "debit"].map { PortalOption(value: $0, label: locale.text("type_\($0)"), selected: $0 == filter.typeText) }
        return HistoryView(lines: LineOption.list(lines, selected: filter.line), line: filter.line.e164, lineQuery: PortalForm.encode(filter.line.e164),
                           from: filter.fromText, to: filter.toText, types: types, operations: rows, empty: rows.isEmpty,
                           csv: "/history.csv?" + filter.query)
    }

    /// `testPayments`: ids of the line's sandbox orders; their operations are marked as test payments.
    static func operation(_ operation: LedgerOperation, testPayments: Set<String>, _ locale: PortalLocale) -> Operation {
        let amounts = operation.entries.map { entry -> String in
            let magnitude = entry.amount.magnitude > UInt64(Int64.max) ? 0 : Int64(entry.amount.magnitude)
            return (entry.amount < 0 ? "−" : "+") + locale.quantity(magnitude, kind: entry.bucketKind, unit: entry.unit)
        }
        return Operation(
            id: String(operation.id), date: PortalController.minute(operation.createdAt), type: locale.text("operation_\(operation.kind.rawValue)"),
            channel: locale.text("channel_\(operation.channel.rawValue)"), reference: operation.reference ?? "", amounts: amounts.joined(separator: ", "),
            credit: operation.kind == .topUp, order: operation.reference.map { $0.hasPrefix("ord_") } ?? false,
            testPayment: operation.reference.map(testPayments.contains) ?? false)
    }
}

/// `receipt.mustache`: an order's receipt, or a transaction's.
struct ReceiptView: Sendable {
    struct Row: Sendable {
        let label: String
        let value: String
    }

    let rows: [Row]
    let heading: String
    let back: String
    let testPayment: Bool
    /// A transaction that paid for an order links to the order's receipt.
    var orderReceipt: String? = nil

    /// `catalog` names the promotions applied in the visitor's language. `guestOrderURL`: a guest's receipt (reached by
    /// their signed link): only what the payer typed and paid, without the balance after; "back" goes to the guest's
    /// order page.
    static func order(_ order: RechargeOrder, guestOrderURL: String? = nil, catalog: Catalog? = nil, _ locale: PortalLocale) -> ReceiptView {
        let receipt = ReceiptOutput(order)
        func row(_ key: String, _ value: String?) -> Row? { value.map { Row(label: locale.text(key), value: $0) } }
        func money(_ output: MoneyOutput?) -> String? { output.map { "\($0.value) \($0.currency)" } }
        let allowances = receipt.allowances.map { locale.quantity($0.amount, kind: $0.kind, unit: "") }.joined(separator: " · ")
        let rows: [Row?] = [
            row("receipt_number", receipt.receiptNumber), row("receipt_order", receipt.order), row("receipt_line", receipt.msisdn),
            row("receipt_item", locale.name(receipt.description)),
            row("receipt_method", locale.text("method_\(receipt.paymentMethod.rawValue)")), row("receipt_reference", receipt.providerReference),
            row("receipt_paid", money(receipt.paid)), receipt.discount == nil ? nil : row("receipt_list_price", money(receipt.listPrice)),
            row("receipt_discount", money(receipt.discount)), row("receipt_credited", money(receipt.credited)), row("receipt_bonus", money(receipt.bonus)),
            receipt.promotions.isEmpty ? nil : row("receipt_promotions", receipt.promotions.map { locale.promotionName($0, catalog) }.joined(separator: ", ")),
            allowances.isEmpty ? nil : row("receipt_allowances", allowances),
            row("offers_receipt_bonus_allowances", order.quote.bonusAllowances.map(locale.bonusAllowances)),
            row("receipt_validity", receipt.validityDays.map(locale.days)),
            guestOrderURL == nil ? row("receipt_balance_after", money(receipt.balanceAfter)) : nil, row("receipt_paid_at", order.paidAt.map(PortalController.minute) ?? receipt.paidAt),
            row("receipt_state", locale.text("order_state_\(receipt.state.rawValue)")),
        ]
        return ReceiptView(rows: rows.compactMap { $0 }, heading: locale.text("receipt_title"), back: guestOrderURL ?? "/orders/\(order.id)", testPayment: receipt.testPayment)
    }

    /// `orderReceipt`: the receipt of the order the transaction paid, when it has one.
    static func transaction(_ operation: LedgerOperation, line: MSISDN, testPayments: Set<String>, orderReceipt: String?,
                            _ locale: PortalLocale) -> ReceiptView {
        let described = HistoryView.operation(operation, testPayments: testPayments, locale)
        let rows = [
            Row(label: locale.text("receipt_transaction"), value: String(operation.id)),
            Row(label: locale.text("receipt_line"), value: line.e164),
            Row(label: locale.text("receipt_time"), value: described.date),
            Row(label: locale.text("receipt_type"), value: described.type),
            Row(label: locale.text("receipt_channel"), value: described.channel),
            Row(label: locale.text("receipt_reference"), value: operation.reference ?? "—"),
            Row(label: locale.text("receipt_amounts"), value: described.amounts),
        ]
        return ReceiptView(rows: rows, heading: locale.text("receipt_transaction_title"), back: "/history?line=\(PortalForm.encode(line.e164))",
                           testPayment: described.testPayment, orderReceipt: orderReceipt)
    }
}

/// `settings.mustache`: language, notice contacts, password and the account's lines.
struct SettingsView: Sendable {
    struct OwnedLine: Sendable {
        let msisdn: String
    }

    let languages: [PortalOption]
    let email: String
    let hasEmail: Bool
    let notifyPhone: String
    let notifyPhoneText: String
    let ownedLines: [OwnedLine]
    let hasLines: Bool
    let phone: String
    /// Per line: which number its SMS notices go to (``SMSNoticeDestination``), as a picker.
    let smsLines: [SMSLine]

    struct SMSLine: Sendable {
        let msisdn: String
        /// The line's digits: the picker's element id.
        let id: String
        let label: String
        let options: [PortalOption]
    }

    /// `smsPhones`: each line's current SMS destination (absent: the line itself).
    static func make(_ account: Account, lines: [MSISDN], smsPhones: [MSISDN: String] = [:], _ locale: PortalLocale) -> SettingsView {
        let languages = NotificationLanguage.allCases.map {
            PortalOption(value: $0.rawValue, label: locale.text("language_\($0.rawValue)"), selected: $0 == locale.language)
        }
        return SettingsView(languages: languages, email: account.email ?? "", hasEmail: account.email != nil, notifyPhone: account.notifyPhone?.e164 ?? "",
                            notifyPhoneText: account.notifyPhone?.e164 ?? locale.text("notify_phone_each_line"),
                            ownedLines: lines.map { OwnedLine(msisdn: $0.e164) }, hasLines: !lines.isEmpty, phone: account.phone.e164,
                            smsLines: lines.map { smsLine($0, lines: lines, current: smsPhones[$0], verified: account.notifyPhone, locale) })
    }

    static func smsLine(_ line: MSISDN, lines: [MSISDN], current: String?, verified: MSISDN?, _ locale: PortalLocale) -> SMSLine {
        let chosen = current ?? line.e164
        let options = SMSNoticeDestination.choices(line: line, accountLines: lines, verifiedPhone: verified).map { number in
            let key = number == line ? "renew_sms_option_self" : lines.contains(number) ? "renew_sms_option_line" : "renew_sms_option_verified"
            return PortalOption(value: number.e164, label: locale.text(key, ["number": number.e164]), selected: number.e164 == chosen)
        }
        return SMSLine(msisdn: line.e164, id: String(line.e164.dropFirst()), label: locale.text("renew_sms_label", ["line": line.e164]), options: options)
    }
}

// What a template shows in a loop is looked up by name, not by reflection: a `Mirror` per lookup made a history
// page of 100 operations three times slower to render than the dictionaries it replaced.

/// Read on every row (`lineQuery`).
extension HistoryView: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "lines": self.lines
        case "line": self.line
        case "lineQuery": self.lineQuery
        case "from": self.from
        case "to": self.to
        case "types": self.types
        case "operations": self.operations
        case "empty": self.empty
        case "csv": self.csv
        case "usage": self.usage
        case "hasUsage": self.hasUsage
        default: nil
        }
    }
}

extension HistoryView.Usage: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "date": self.date
        case "what": self.what
        case "place": self.place
        case "quantity": self.quantity
        case "fromPacks": self.fromPacks
        case "charge": self.charge
        case "free": self.free
        default: nil
        }
    }
}

extension HistoryView.Operation: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "id": self.id
        case "date": self.date
        case "type": self.type
        case "channel": self.channel
        case "reference": self.reference
        case "amounts": self.amounts
        case "credit": self.credit
        case "order": self.order
        case "testPayment": self.testPayment
        default: nil
        }
    }
}

extension ReceiptView.Row: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "label": self.label
        case "value": self.value
        default: nil
        }
    }
}

extension SettingsView.OwnedLine: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "msisdn": self.msisdn
        default: nil
        }
    }
}

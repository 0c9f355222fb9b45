import Foundation
import Hummingbird
import RechargeCore

/// The printable receipt of `GET /v1/orders/{id}/receipt` when the client asks for HTML, in English or Simplified
/// Chinese: a typed view model rendered through the portal's `order_receipt.mustache` with its locale files (the
/// portal's own receipt page, `receipt.mustache`, sits inside the portal's layout). No markup or wording in Swift.
struct ReceiptPage: Sendable {
    let resources: PortalResources

    /// `order_receipt.mustache`: every value is escaped by the template (`{{ }}`).
    struct View: Sendable {
        let lang: String
        let title: String
        let receiptNumber: String
        /// A sandbox receipt must never pass for a real one: said first, in words, not only by the method's name.
        let testPayment: Bool
        let testNotice: String
        /// Only the rows the receipt has a value for, in the receipt's order.
        let rows: [ReceiptView.Row]
        let print: String
    }

    func html(_ receipt: ReceiptOutput, language: NotificationLanguage) -> String {
        resources.templates.render("order_receipt", Self.view(receipt, PortalLocale(strings: resources.strings, language: language)))
    }

    static func view(_ receipt: ReceiptOutput, _ locale: PortalLocale) -> View {
        func row(_ key: String, _ value: String?) -> ReceiptView.Row? { value.map { ReceiptView.Row(label: locale.text(key), value: $0) } }
        func money(_ money: MoneyOutput?) -> String? { money.map { "\($0.value) \($0.currency)" } }
        let allowances = receipt.allowances.map { allowance in
            "\(Quantity.format(allowance.amount, kind: allowance.kind)) \(allowance.kind.rawValue)"
        }.joined(separator: ", ")
        let method = receipt.paymentMethod.rawValue
        let rows: [ReceiptView.Row?] = [
            row("receipt_number", receipt.receiptNumber), row("receipt_order", receipt.order), row("receipt_line", receipt.msisdn),
            row("receipt_item", locale.name(receipt.description)),
            row("receipt_method", receipt.testPayment ? locale.text("order_receipt_test_method", ["method": method]) : method),
            row("receipt_reference", receipt.providerReference), row("receipt_paid", money(receipt.paid)),
            row("order_receipt_list_price", receipt.discount == nil ? nil : money(receipt.listPrice)),
            row("receipt_discount", money(receipt.discount)), row("receipt_credited", money(receipt.credited)), row("receipt_bonus", money(receipt.bonus)),
            row("receipt_promotions", receipt.promotions.isEmpty ? nil : receipt.promotions.joined(separator: ", ")),
            row("order_receipt_allowances", allowances.isEmpty ? nil : allowances),
            row("offers_receipt_bonus_allowances", receipt.bonusAllowances.map(locale.bonusAllowances)),
            row("order_receipt_validity", receipt.validityDays.map(String.init)),
            row("receipt_balance_after", money(receipt.balanceAfter)), row("receipt_paid_at", receipt.paidAt),
            row("receipt_state", receipt.state.rawValue),
        ]
        return View(lang: locale.language.rawValue, title: locale.text("receipt_title"), receiptNumber: receipt.receiptNumber,
                    testPayment: receipt.testPayment, testNotice: locale.text("order_receipt_test_payment"), rows: rows.compactMap { $0 },
                    print: locale.text("print"))
    }
}

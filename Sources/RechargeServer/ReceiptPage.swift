import Foundation
import RechargeCore

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
        // A sandbox receipt must never pass for a real one: said first, in words, not only by the method's name.
        let testNotice = receipt.testPayment
            ? "<p id=\"test-payment\" class=\"test-payment\"><strong>\(zh ? "测试支付：未收取任何真实款项。" : "Test payment: no real money was paid.")</strong></p>" : ""
        return """
            <!doctype html>
            <html lang="\(zh ? "zh-Hans" : "en")"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
            <title>\(title) \(receipt.receiptNumber)</title>
            <style>body{font-family:system-ui,sans-serif;max-width:32em;margin:1em auto;padding:0 1em;color:#111}table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:6px;border-bottom:1px solid #ddd}th{font-weight:600;width:40%}@media print{button{display:none}}</style>
            </head><body>
            <h1>\(title)</h1>
            \(testNotice)
            <table>
            \(row(zh ? "收据编号" : "Receipt number", receipt.receiptNumber))
            \(row(zh ? "订单" : "Order", receipt.order))
            \(row(zh ? "号码" : "Phone number", receipt.msisdn))
            \(row(zh ? "项目" : "Item", receipt.description[language] ?? receipt.description["en"]))
            \(row(zh ? "支付方式" : "Paid with", receipt.testPayment ? "\(receipt.paymentMethod.rawValue) (\(zh ? "测试支付" : "test payment"))" : receipt.paymentMethod.rawValue))
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

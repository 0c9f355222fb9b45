import Foundation
import RechargeCore
import RechargeQR

/// `order.mustache`'s wallet block: the QR code an Alipay or WeChat Pay order is paid with, drawn here (RechargeQR)
/// from the content the provider gave at checkout (Alipay's `qr_code`, WeChat Pay's `code_url`), the amount in the
/// wallet's currency with the rate it was converted at, and how long the code can still be paid.
struct WalletCheckoutView: Sendable {
    /// `alipay` or `wechat_pay`: the block's id and which localized instructions it shows.
    let method: String
    let alipay: Bool
    let wechatPay: Bool
    /// The code as inline SVG (made by our encoder from the provider's content; nothing from the payer in it).
    let svg: String
    /// What the code contains, also shown as text under it (`data-qr` for the browser test).
    let content: String
    /// A link that opens the wallet on this phone, where the provider offers one: Alipay's `qr_code` is an https
    /// address its app claims. WeChat Pay's `weixin://wxpay/bizpayurl` only works when scanned inside WeChat.
    let appLink: String?
    /// The same code as a PNG, to save to the phone's album and scan from there in the wallet app.
    let imageURL: String
    /// `72.35 CNY`.
    let amount: String
    /// `10.00 USD at 1 USD = 7.2345 CNY (test desk)`; nil when the order is priced in the wallet's currency.
    let conversion: String?
    /// `29:41`: time left to pay; `0:00` once passed. portal.js counts it down from `secondsLeft` (the payer's own
    /// clock is not trusted to be right).
    let remaining: String
    let secondsLeft: Int
    /// `2026-12-03 22:30 UTC`.
    let expiresAt: String

    static func isWallet(_ method: PaymentMethod) -> Bool {
        switch method {
        case .alipay, .wechatPay: true
        case .sandbox, .stripe, .paypal, .bankTransfer: false
        }
    }

    /// The symbol a QR checkout is drawn as, on the page and as the PNG alike (level M); nil for any other checkout.
    static func code(of checkout: CheckoutOutput?) -> (content: String, code: QRCode)? {
        guard let checkout, checkout.type == "qr_code", let content = checkout.qrCode,
              let code = try? QRCode(text: content, correction: .medium)
        else { return nil }
        return (content, code)
    }

    /// Nil unless the checkout is a QR code of a wallet order that can be drawn.
    /// `orderURL`: where the page is (`/orders/{id}`, or a guest's signed link); the PNG is beside it.
    static func make(_ order: RechargeOrder, checkout: CheckoutOutput, orderURL: String, now: Date, _ locale: PortalLocale) -> WalletCheckoutView? {
        guard isWallet(order.paymentMethod), let (content, code) = code(of: checkout) else { return nil }
        let method = locale.text("method_\(order.paymentMethod.rawValue)")
        var conversion: String?
        if let settlement = order.quote.settlement, let fx = order.quote.fx {
            conversion = locale.text("wallet_conversion", ["amount": PortalLocale.money(settlement), "base": fx.base, "quote": fx.quote,
                                                           "rate": fx.rate, "source": fx.source])
        }
        let left = max(0, Int(order.expiresAt.timeIntervalSince(now).rounded(.down)))
        return WalletCheckoutView(
            method: order.paymentMethod.rawValue, alipay: order.paymentMethod == .alipay, wechatPay: order.paymentMethod == .wechatPay,
            svg: code.svg(moduleSize: 5, quietZone: 4, label: locale.text("wallet_qr_label", ["method": method])),
            content: content,
            appLink: order.paymentMethod == .alipay && content.hasPrefix("https://") ? content : nil,
            imageURL: orderURL + "/qr.png",
            amount: PortalLocale.money(order.quote.price), conversion: conversion,
            remaining: duration(left), secondsLeft: left, expiresAt: PortalController.minute(order.expiresAt))
    }

    /// `4:05`, `29:41`, `1:02:03`.
    static func duration(_ seconds: Int) -> String {
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let hours = seconds / 3600, minutes = seconds / 60 % 60
        return hours > 0 ? "\(hours):\(two(minutes)):\(two(seconds % 60))" : "\(minutes):\(two(seconds % 60))"
    }
}

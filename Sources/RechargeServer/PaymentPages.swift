import Foundation
import Hummingbird
import RechargeCore

/// The payment flow's own pages, outside the portal: the payer's way back from a provider (PayPal, Stripe
/// Checkout) and the sandbox's hosted checkout. Typed view models rendered through the portal's Mustache
/// templates (`payment_result`, `sandbox_checkout`) with its locale files; no markup or wording in Swift.
struct PaymentPages: Sendable {
    let resources: PortalResources

    /// `payment_result.mustache`.
    struct Result {
        let lang: String
        let title: String
        let item: String
        let price: String
        let msisdn: String
        let state: String
        let status: String
    }

    /// `sandbox_checkout.mustache`.
    struct Checkout {
        struct Back {
            let href: String
            let text: String
        }

        let lang: String
        let title: String
        let note: String
        let item: String
        let price: String
        let msisdn: String
        let state: String
        let status: String
        let canPay: Bool
        let pay: String
        let fail: String
        /// Empty, or the shop's page to go back to.
        let back: [Back]
    }

    /// Where the payer comes back from.
    enum Provider {
        case paypal
        case card

        var titleKey: String {
            switch self {
            case .paypal: "payment_title_paypal"
            case .card: "payment_title_card"
            }
        }
    }

    /// What the payer coming back is told: `left`, the text for a payer who left without paying, wins while the
    /// order is unpaid.
    static func returnStatusKey(_ state: OrderState, left: String?) -> String {
        switch state {
        case .fulfilled: "payment_paid_applied"
        case .paid: "payment_paid_pending"
        case .created, .awaitingPayment, .failed, .expired, .cancelled, .refunded, .partiallyRefunded: left ?? "payment_incomplete"
        }
    }

    static func checkoutStatusKey(_ state: OrderState) -> String {
        switch state {
        case .fulfilled: "payment_paid_applied"
        case .paid: "payment_paid_pending"
        case .failed: "payment_failed_retry"
        case .expired: "payment_order_expired"
        case .cancelled: "payment_order_cancelled"
        case .created, .awaitingPayment, .refunded, .partiallyRefunded: "payment_waiting"
        }
    }

    func result(_ provider: Provider, order: RechargeOrder, statusKey: String, language: NotificationLanguage) -> Response {
        let text = { (key: String) in resources.strings.text(key, language) }
        let page = Result(lang: language.rawValue, title: text(provider.titleKey), item: Self.item(order, language), price: Self.price(order),
                          msisdn: order.msisdn.e164, state: order.state.rawValue, status: text(statusKey))
        return Self.html(resources.templates.library.render(page, withTemplate: "payment_result") ?? "")
    }

    func checkout(_ order: RechargeOrder, back: String?, language: NotificationLanguage) -> Response {
        let text = { (key: String) in resources.strings.text(key, language) }
        let page = Checkout(
            lang: language.rawValue, title: text("sandbox_title"), note: text("sandbox_note"), item: Self.item(order, language), price: Self.price(order),
            msisdn: order.msisdn.e164, state: order.state.rawValue, status: text(Self.checkoutStatusKey(order.state)),
            canPay: !order.state.isClosedToPayment, pay: text("sandbox_pay"), fail: text("sandbox_fail"),
            back: back.map { [Checkout.Back(href: $0, text: text("sandbox_back"))] } ?? [])
        return Self.html(resources.templates.library.render(page, withTemplate: "sandbox_checkout") ?? "")
    }

    private static func item(_ order: RechargeOrder, _ language: NotificationLanguage) -> String {
        order.quote.names[language.rawValue] ?? order.quote.names["en"] ?? ""
    }

    private static func price(_ order: RechargeOrder) -> String { "\(order.quote.price.decimalString) \(order.quote.price.currency.code)" }

    private static func html(_ text: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

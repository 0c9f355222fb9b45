import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOConcurrencyHelpers
import RechargeCore
import RechargePayments
@testable import RechargeServer
import RechargeStore
import RechargeTestSupport
import Testing
import _CryptoExtras

/// The portal's order page for Alipay and WeChat Pay, against the gateway stand-ins built from the providers' SDKs
/// (scripts/peers/alipay_gateway.py, wechat_gateway.py): the QR code drawn on the page carries exactly what the
/// provider gave, the page shows it again on every reload without a second precreate, the amount is in CNY with the
/// rate, the PNG is the account's own, and a paid order stops showing it. An expired code cannot be paid at the
/// provider (`time_expire`) and the page says nothing was charged.
@Suite("Portal: Alipay and WeChat Pay QR codes (SDK-built gateways)", .enabled(if: PaymentPeer.isAvailable,
       "RECHARGE_TEST_PEERS_PYTHON is not set: run scripts/test (or eval \"$(scripts/start-peers)\") for the gateway peers"))
struct PortalWalletTests {
    /// A clock the test moves: real time (the stand-ins check `time_expire` against their own clock) plus an offset.
    final class Clock: Sendable {
        private let offset = NIOLockedValueBox<TimeInterval>(0)
        var now: Date { Date().addingTimeInterval(offset.withLockedValue { $0 }) }
        func set(_ seconds: TimeInterval) { offset.withLockedValue { $0 = seconds } }
    }

    /// `me` pays for the $10 top-up on the demo line with `method`; the order's id.
    static func placeOrder(_ me: PortalVisitor, _ method: PaymentMethod) async throws -> String {
        let paid = try await me.post("/recharge/pay", ["line": "+14155550100", "item": "topup-10", "method": method.rawValue, "promotionCode": "",
                                                       "key": "wallet-\(UUID().uuidString)"])
        #expect(paid.status == .seeOther, "\(paid.html)")
        let location = try #require(paid.headers[.location])
        #expect(location.hasPrefix("/orders/ord_"))
        return String(location.dropFirst("/orders/".count))
    }

    /// The `data-qr` of the page's wallet block, its HTML escapes undone.
    static func qrContent(_ html: String) -> String? {
        guard let start = html.range(of: #"data-qr=""#) else { return nil }
        let escaped = html[start.upperBound...].prefix { $0 != "\"" }
        return escaped.replacingOccurrences(of: "&#x2F;", with: "/").replacingOccurrences(of: "&#x3D;", with: "=")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'").replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
    }

    @Test(arguments: [PaymentMethod.alipay, .wechatPay])
    func theOrderPageShowsTheProvidersCode(_ method: PaymentMethod) async throws {
        let (gateway, payments) = try await WalletCheckoutTests.standIn(method)
        defer { Task { await gateway.stop() } }
        let clock = Clock()
        try await PortalHarness.run(payments: payments, clock: { clock.now }) { portal in
            let me = try await portal.signUp("+14155550100")
            let id = try await Self.placeOrder(me, method)
            let order = try await portal.services.orders.order(id)
            let content = try #require(order.checkoutPayload, "the provider's QR content is kept with the order")
            #expect(content.hasPrefix(method == .alipay ? "https://qr.alipay.com/" : "weixin://wxpay/bizpayurl?pr="))

            let page = try await me.get("/orders/\(id)")
            #expect(page.status == .ok)
            #expect(Self.qrContent(page.html) == content)
            #expect(page.html.contains("<svg"), "the code is drawn inline")
            #expect(page.html.contains(#"data-poll="/orders/\#(id)/state""#), "the page follows the order until paid")
            #expect(page.html.contains(#"<noscript><meta http-equiv="refresh""#), "and reloads itself without a script")
            let polled = try await me.get("/orders/\(id)/state")
            #expect(polled.status == .ok && polled.html == #"{"state":"awaiting_payment"}"#)
            // 10.00 USD at 7.2345 = 72.345, rounded up once to 72.35 CNY; the USD amount and the rate beside it.
            #expect(page.html.contains(#"id="wallet-amount">72.35 CNY<"#))
            #expect(page.html.contains("10.00 USD") && page.html.contains("7.2345"))
            // The time left: the order's window, here the converted price's 15 minutes (the rate's validity).
            let window = Int(order.expiresAt.timeIntervalSince(order.createdAt))
            #expect(window == 15 * 60)
            #expect(page.html.contains(#"id="wallet-remaining" data-seconds="\#(window)">15:00<"#)
                    || page.html.contains(#"id="wallet-remaining" data-seconds="\#(window - 1)">14:59<"#))
            // Only Alipay's code is a link its app opens on the phone.
            #expect(page.html.contains(#"id="wallet-app""#) == (method == .alipay))

            // A reload draws the same code: no second precreate (the stand-ins make a new random code for each).
            clock.set(60)
            let again = try await me.get("/orders/\(id)")
            #expect(Self.qrContent(again.html) == content)
            #expect(again.html.contains(#"data-seconds="\#(window - 60)">14:00<"#) || again.html.contains(#"data-seconds="\#(window - 61)">13:59<"#))
            // The API's order shows the same checkout, also without asking the provider.
            let api = try await portal.client.execute(uri: "/v1/orders/\(id)", method: .get, headers: [.authorization: "Bearer \(portal.admin)"], body: nil)
            let json = try JSONSerialization.jsonObject(with: Data(buffer: api.body)) as? [String: Any]
            #expect((json?["checkout"] as? [String: Any])?["qrCode"] as? String == content)

            // The PNG, for the phone's album: the account's own order only.
            let png = try await me.get("/orders/\(id)/qr.png")
            #expect(png.status == .ok)
            #expect(png.headers[.contentType] == "image/png")
            #expect(Array(png.body.readableBytesView.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
            let stranger = try await portal.signUp("+14155550101")
            #expect(try await stranger.get("/orders/\(id)/qr.png").status == .notFound)
            #expect(try await portal.visitor().get("/orders/\(id)/qr.png").status == .seeOther, "not signed in: to the login page")

            // Paid at the provider; the reconciliation job's status query fulfils it; the code is gone.
            try await gateway.hook("/_test/pay?out_trade_no=\(id)")
            await OrderReconciliationService(orders: portal.services.orders, payments: payments, clock: { clock.now }, logger: Logger(label: "test")).runOnce()
            let paid = try await me.get("/orders/\(id)")
            #expect(paid.html.contains(#"data-state="fulfilled""#))
            #expect(!paid.html.contains(#"id="wallet""#) && !paid.html.contains("<svg") && !paid.html.contains("data-poll"))
            #expect(try await stranger.get("/orders/\(id)/state").status == .notFound)
            #expect(try await me.get("/orders/\(id)/qr.png").status == .notFound)
        }
    }

    /// The order's window closes: the provider was told (`time_expire`) and refuses the payment, the order expires
    /// here, and the page says, in the payer's language, that the code can no longer be paid and nothing was charged.
    @Test(arguments: [PaymentMethod.alipay, .wechatPay])
    func anExpiredCodeCannotBePaid(_ method: PaymentMethod) async throws {
        let (gateway, payments) = try await WalletCheckoutTests.standIn(method)
        defer { Task { await gateway.stop() } }
        let clock = Clock()
        try await PortalHarness.run(payments: payments, clock: { clock.now }) { portal in
            // A first order tells the window (the converted price's validity); the second is made that long less 3 s
            // "ago", so its window (and the provider's trade) closes 3 s from now.
            let me = try await portal.signUp("+14155550100", language: "zh-Hans")
            let probe = try await Self.placeOrder(me, method)
            let window = try await portal.services.orders.order(probe).expiresAt.timeIntervalSince(clock.now)
            clock.set(-(window.rounded(.down) - 3))
            let id = try await Self.placeOrder(me, method)
            let before = try await portal.services.ledger.balance(try MSISDN("+14155550100"), at: clock.now)
            try await Task.sleep(for: .seconds(4))
            clock.set(0)
            await #expect(throws: GatewayPeer.Failure.self, "the provider refuses to take the money") {
                try await gateway.hook("/_test/pay?out_trade_no=\(id)")
            }
            #expect(try await portal.services.orderService.expireOverdue() == 1, "the second order; the probe has time left")
            let page = try await me.get("/orders/\(id)")
            #expect(page.html.contains(#"data-state="expired""#))
            #expect(page.html.contains(#"id="wallet-expired""#) && page.html.contains("未扣任何费用"))
            #expect(!page.html.contains("<svg") && !page.html.contains("data-poll") && !page.html.contains("http-equiv"))
            let after = try await portal.services.ledger.balance(try MSISDN("+14155550100"), at: clock.now)
            #expect(after.totals == before.totals, "nothing charged, nothing credited")
        }
    }
}

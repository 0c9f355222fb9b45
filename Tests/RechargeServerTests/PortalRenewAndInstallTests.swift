import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RechargeCore
@testable import RechargeServer
import RechargeStore
import RechargeTestSupport
import Testing

/// Issue 16, items 6 and 8: the auto-renew switch on the dashboard (and its API twin), the number that receives a
/// line's SMS, and the installable portal (manifest, icons, head links).
@Suite("Portal: auto-renew, SMS number, install")
struct PortalRenewAndInstallTests {
    /// Buys the auto-renewing 5 GB pack with the sandbox through the pages; returns the order id.
    static func buyRenewingPack(_ me: PortalVisitor) async throws -> String {
        let review = try await me.get("/recharge/review?line=%2B14155550100&item=us-data-5gb-30d&method=sandbox&promotionCode=")
        let key = try #require(review.html.range(of: #"name="key" value=""#).map { String(review.html[$0.upperBound...].prefix { $0 != "\"" }) })
        let paid = try await me.post("/recharge/pay", ["line": "+14155550100", "item": "us-data-5gb-30d", "method": "sandbox", "promotionCode": "", "key": key])
        let checkout = try #require(paid.headers[.location])
        _ = try await me.post(checkout, ["action": "pay"], csrf: "")
        return String(checkout.split(separator: "/")[2].prefix { $0 != "?" })
    }

    static func renewalID(_ html: String) -> String? {
        html.range(of: #"data-renewal=""#).map { String(html[$0.upperBound...].prefix { $0 != "\"" }) }
    }

    @Test(arguments: [Backend.sqlite, .postgres])
    func autoRenewSwitch(_ backend: Backend) async throws {
        guard backend == .sqlite || TestDatabase.postgresAvailable else { return }
        try await PortalHarness.run(backend) { portal in
            let me = try await portal.signUp("+14155550100")
            _ = try await Self.buyRenewingPack(me)
            let dashboard = try await me.get("/dashboard")
            let id = try #require(Self.renewalID(dashboard.html), "the dashboard lists the renewal")
            #expect(dashboard.html.contains(#"data-on="true""#) && dashboard.html.contains(#"aria-checked="true""#))
            #expect(dashboard.html.contains("Turn auto-renew off"))

            // Off: a redirect to the dashboard with a notice; the store says cancelled; the pass would not renew it.
            let off = try await me.post("/renewals", ["line": "+14155550100", "renewal": id, "on": "0"])
            #expect(off.status == .seeOther && off.headers[.location] == "/dashboard?renew=off")
            let after = try await me.get("/dashboard?renew=off")
            #expect(after.html.contains("Auto-renew is off. The pack ends with its current period.") && after.html.contains(#"data-on="false""#))
            #expect(try await portal.services.renewals.renewals(msisdn: try MSISDN("+14155550100")).first?.state == .cancelled)

            // On again, in Chinese.
            me.setCookie("rc_lang", "zh-Hans")
            let on = try await me.post("/renewals", ["line": "+14155550100", "renewal": id, "on": "1"])
            #expect(on.headers[.location] == "/dashboard?renew=on")
            let chinese = try await me.get("/dashboard?renew=on")
            #expect(chinese.html.contains("已开启自动续订") && chinese.html.contains("关闭自动续订"))
            #expect(try await portal.services.renewals.renewals(msisdn: try MSISDN("+14155550100")).first?.state == .active)

            // Bad input changes nothing: a bogus switch value, an unknown renewal, another account's renewal.
            #expect(try await me.post("/renewals", ["line": "+14155550100", "renewal": id, "on": "maybe"]).status == .badRequest)
            #expect(try await me.post("/renewals", ["line": "+14155550100", "renewal": "rn_nope", "on": "0"]).status == .notFound)
            _ = try? await portal.services.ledger.openLine(
                try OpenLineCommand(msisdn: try MSISDN("+14155550101"), iccid: nil, type: .prepaid, currency: .usd, creditLimit: nil, subscriber: nil),
                now: PortalHarness.now)
            let other = try await portal.signUp("+14155550101")
            try await other.get("/dashboard")
            #expect(try await other.post("/renewals", ["line": "+14155550100", "renewal": id, "on": "0"]).status == .notFound)
            #expect(try await other.post("/renewals", ["line": "+14155550101", "renewal": id, "on": "0"]).status == .notFound)
            #expect(try await portal.services.renewals.renewals(msisdn: try MSISDN("+14155550100")).first?.state == .active)
            // Without the CSRF token: refused.
            #expect(try await me.post("/renewals", ["line": "+14155550100", "renewal": id, "on": "0"], csrf: "forged").status == .forbidden)
        }
    }

    /// The API's twin of the switch: `POST /v1/renewals/{id}/resume` after `…/cancel`; a refunded pack is 409.
    @Test func apiResume() async throws {
        try await PortalHarness.run { portal in
            let me = try await portal.signUp("+14155550100")
            let order = try await Self.buyRenewingPack(me)
            let id = try #require(try await portal.services.renewals.renewals(msisdn: try MSISDN("+14155550100")).first?.id)
            func post(_ path: String) async throws -> TestResponse {
                try await portal.client.execute(uri: path, method: .post, headers: [.authorization: "Bearer \(portal.admin)"], body: nil)
            }
            #expect(try await post("/v1/renewals/\(id)/cancel").status == .ok)
            let resumed = try await post("/v1/renewals/\(id)/resume")
            #expect(resumed.status == .ok && String(buffer: resumed.body).contains(#""state":"active""#), "\(String(buffer: resumed.body))")
            _ = try await portal.services.orders.startRefund(orderID: order, amount: nil, reason: "test", key: try IdempotencyKey("rf-1"), now: PortalHarness.now)
            let refused = try await post("/v1/renewals/\(id)/resume")
            #expect(refused.status == .conflict && String(buffer: refused.body).contains("renewal-refunded"), "\(String(buffer: refused.body))")
            #expect(try await post("/v1/renewals/rn_nope/resume").status == .badRequest)
        }
    }

    @Test func smsNumberSetting() async throws {
        try await PortalHarness.run { portal in
            _ = try? await portal.services.ledger.openLine(
                try OpenLineCommand(msisdn: try MSISDN("+14155550101"), iccid: nil, type: .prepaid, currency: .usd, creditLimit: nil, subscriber: nil),
                now: PortalHarness.now)
            let me = try await portal.signUp("+14155550100")
            // A second line of one's own, with its code.
            try await me.get("/settings")
            _ = try await me.post("/settings/lines", ["msisdn": "+14155550101"])
            let lineCode = try #require(try await portal.code(to: "+14155550101"))
            _ = try await me.post("/settings/lines/verify", ["msisdn": "+14155550101", "code": lineCode])
            let settings = try await me.get("/settings")
            #expect(settings.html.contains(#"id="sms-14155550100""#) && settings.html.contains("+14155550101 (your line)"))
            #expect(!settings.html.contains("(verified number)"))

            // The first line's SMS to the second line.
            let saved = try await me.post("/settings/sms-number", ["line": "+14155550100", "to": "+14155550101"])
            #expect(saved.status == .seeOther && saved.headers[.location] == "/settings?saved=1")
            #expect(try await portal.services.notificationPreferences.preferences(try MSISDN("+14155550100")).smsPhone == "+14155550101")
            // An arbitrary number is refused with a localized message and changes nothing.
            let refused = try await me.post("/settings/sms-number", ["line": "+14155550100", "to": "+14155550177"])
            #expect(refused.status == .unprocessableContent && refused.html.contains("That number is not verified."))
            #expect(try await portal.services.notificationPreferences.preferences(try MSISDN("+14155550100")).smsPhone == "+14155550101")
            let garbage = try await me.post("/settings/sms-number", ["line": "+14155550100", "to": "not a number"])
            #expect(garbage.status == .badRequest)
            // Verified through the code path, the number is offered and can be chosen; back to the line itself.
            _ = try await me.post("/settings/phone", ["notifyPhone": "+14155550177"])
            let phoneCode = try #require(try await portal.code(to: "+14155550177"))
            _ = try await me.post("/settings/phone/verify", ["phone": "+14155550177", "code": phoneCode])
            #expect(try await me.get("/settings").html.contains("+14155550177 (verified number)"))
            #expect(try await me.post("/settings/sms-number", ["line": "+14155550100", "to": "+14155550100"]).status == .seeOther)
            #expect(try await portal.services.notificationPreferences.preferences(try MSISDN("+14155550100")).smsPhone == nil)
        }
    }

    @Test func manifestAndIcons() async throws {
        try await PortalHarness.run { portal in
            let visitor = portal.visitor(acceptLanguage: "zh-CN")
            let login = try await visitor.get("/login")
            #expect(login.html.contains(#"<link rel="manifest" href="/manifest.webmanifest?lang=zh-Hans">"#))
            #expect(login.html.contains(#"<link rel="apple-touch-icon" href="/static/icon-180.png">"#))
            #expect(login.html.contains(##"<meta name="theme-color" content="#0b3d91">"##))

            for (lang, name) in [("en", "Recharge: balance and top-ups"), ("zh-Hans", "Recharge 充值：余额与充值")] {
                let response = try await visitor.get("/manifest.webmanifest?lang=\(lang)")
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/manifest+json; charset=utf-8")
                #expect(response.headers[.cacheControl] == "public, max-age=3600")
                let manifest = try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
                #expect(manifest["name"] as? String == name && manifest["lang"] as? String == lang)
                #expect(manifest["display"] as? String == "standalone" && manifest["start_url"] as? String == "/")
                #expect(manifest["theme_color"] as? String == "#0b3d91")
                let icons = try #require(manifest["icons"] as? [[String: String]])
                #expect(Set(icons.compactMap { $0["sizes"] }) == ["192x192", "512x512", "any"])
                for icon in icons {
                    let file = try await visitor.get(try #require(icon["src"]))
                    #expect(file.status == .ok && file.headers[.contentType] == icon["type"], "\(icon)")
                    #expect(file.headers[.cacheControl] == "public, max-age=3600")
                    let bytes = Array(Data(buffer: file.body))
                    if icon["type"] == "image/png" {
                        // The PNG signature, and IHDR's width and height as the manifest says.
                        #expect(bytes.prefix(8) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
                        let width = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = bytes[20..<24].reduce(0) { $0 << 8 | Int($1) }
                        #expect("\(width)x\(height)" == icon["sizes"])
                    } else {
                        #expect(String(decoding: bytes, as: UTF8.self).hasPrefix("<svg"))
                    }
                }
            }
            // Without ?lang: the browser's language, and the answer says it varies with it.
            let fallback = try await visitor.get("/manifest.webmanifest")
            #expect(fallback.headers[.vary] == "Accept-Language" && String(buffer: fallback.body).contains(#""lang":"zh-Hans""#))
            let touch = try await visitor.get("/static/icon-180.png")
            #expect(touch.status == .ok && touch.headers[.contentType] == "image/png")
        }
    }
}

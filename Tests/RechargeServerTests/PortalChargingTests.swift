import Foundation
import RechargeCore
import RechargeServer
import RechargeStore
import RechargeTestSupport
import Testing

/// What a subscriber sees of charging in the portal: the calls, messages and data sessions itemized on the history
/// page, and a paused line's warning on the dashboard until a recharge lands.
@Suite("Portal charging")
struct PortalChargingTests {
    static func use(_ portal: PortalHarness, _ session: String, _ number: Int64, _ type: CreditControlRequestType, service: ChargedService,
                    to destination: String?, country: String? = nil, used: Int64) async throws -> ChargingAnswer {
        let use = ChargedUse(service: service, destination: destination, visitedCountry: country, visitedNetwork: nil, start: PortalHarness.now)
        return try await portal.services.charging.handle(try ChargingRequest(
            sessionID: session, requestNumber: number, type: type, msisdn: try MSISDN("+14155550100"), interface: .diameter(peer: "pgw"),
            services: [try ServiceCreditRequest(key: "", use: use, used: used, requested: type == .termination ? 0 : nil)], now: PortalHarness.now))
    }

    @Test(arguments: ["en", "zh-Hans"]) func usageIsItemizedAndAPausedLineSaysSo(language: String) async throws {
        try await PortalHarness.run { portal in
            let me = try await portal.signUp("+14155550100", language: language)
            _ = try await Self.use(portal, "call-1", 0, .initial, service: .voice, to: "8613800138000", used: 0)
            _ = try await Self.use(portal, "call-1", 1, .termination, service: .voice, to: "8613800138000", used: 125)
            _ = try await Self.use(portal, "sos", 0, .event, service: .voice, to: "112", used: 30)
            let history = String(buffer: try await me.get("/history?line=%2B14155550100").body)
            #expect(history.contains(#"<table id="usage">"#))
            #expect(history.contains(language == "en" ? "Call to +8613800138000" : "呼叫 +8613800138000"), "\(history)")
            #expect(history.contains(language == "en" ? "Call to 112" : "呼叫 112"))

            // Spend the rest: the line is barred and the dashboard says so; a recharge lifts it.
            let balance = try await portal.services.ledger.balance(try MSISDN("+14155550100"), at: PortalHarness.now)
            let left = balance.totals.first { $0.kind == .monetary }?.available ?? 0
            if left > 0 {
                _ = try await portal.services.ledger.debit(try DebitCommand(msisdn: try MSISDN("+14155550100"), kind: .monetary, amount: left, currency: .usd,
                                                                            channel: .network, reference: nil, mainBalanceOnly: true),
                                                           key: try IdempotencyKey("spend-all"), now: PortalHarness.now)
            }
            // The line's packs are home packs: data in Japan needs money, and there is none.
            let refused = try await Self.use(portal, "data-jp", 0, .initial, service: .data, to: nil, country: "JP", used: 0)
            #expect(refused.result == .creditLimitReached && refused.barred)
            let warning = language == "en" ? "Service is paused" : "服务已暂停"
            #expect(String(buffer: try await me.get("/dashboard").body).contains(warning))
            _ = try await portal.services.ledger.topUp(try TopUpCommand(msisdn: try MSISDN("+14155550100"), value: .money(try Money(decimal: "5", currency: .usd)),
                                                                        channel: .card, reference: nil), key: try IdempotencyKey("back"), now: PortalHarness.now)
            #expect(!String(buffer: try await me.get("/dashboard").body).contains(warning))
        }
    }
}

import Foundation
import RechargeCore
@testable import RechargeServer
import RechargeStore
import RechargeTestSupport
import Testing

/// Issue 14, item 4, through the portal's own pages: one subscriber guessing locks only their own account and line.
@Suite("Portal: voucher lockouts")
struct PortalVoucherLockoutTests {
    /// 12 wrong PINs at once from account A: A is locked out (429), the channel is not paused, and account B redeems.
    @Test func oneAccountsGuessesDoNotPauseRedemptionForOthers() async throws {
        try await PortalHarness.run { portal in
            let cards = try await portal.voucherCards(count: 2)
            let pins = cards.map(\.pin)
            // B's line may already be a demo line; it only has to exist.
            _ = try? await portal.services.ledger.openLine(
                try OpenLineCommand(msisdn: try MSISDN("+14155550101"), iccid: nil, type: .prepaid, currency: .usd, creditLimit: nil, subscriber: nil),
                now: PortalHarness.now)
            let a = try await portal.signUp("+14155550100")
            let b = try await portal.signUp("+14155550101")
            try await a.get("/redeem")
            try await b.get("/redeem")
            var generator = SystemRandomNumberGenerator()
            var guesses: [String] = []
            while guesses.count < 12 {
                let pin = VoucherPIN.generate(using: &generator).digits
                if !pins.contains(pin) { guesses.append(pin) }
            }
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for guess in guesses {
                    group.addTask { Int(try await a.post("/redeem", ["line": "+14155550100", "pin": guess, "serial": cards[0].serial]).status.code) }
                }
                var statuses: [Int: Int] = [:]
                for try await status in group { statuses[status, default: 0] += 1 }
                return statuses
            }
            // Five reached the PIN check (422), the rest were refused before it (429); none paused the channel (503).
            #expect(statuses == [422: 5, 429: 7], "\(statuses)")
            let locked = try await a.post("/redeem", ["line": "+14155550100", "pin": pins[0], "serial": cards[0].serial])
            #expect(locked.status == .tooManyRequests)
            let redeemed = try await b.post("/redeem", ["line": "+14155550101", "pin": pins[0], "serial": cards[0].serial])
            #expect(redeemed.status == .ok, "\(redeemed.status)")
            #expect(redeemed.html.contains(#"id="result""#))
        }
    }
}

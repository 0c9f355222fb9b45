import Foundation
import Testing
@testable import RechargeCore

@Suite("Accounts")
struct AccountTests {
    @Test func noLockBelowFiveFailures() {
        for failures in 0..<5 { #expect(LoginLockoutPolicy.perClient.lock(afterFailures: failures) == nil) }
    }

    @Test func lockDoublesFromOneMinuteToOneHour() {
        #expect(LoginLockoutPolicy.perClient.lock(afterFailures: 5) == 60)
        #expect(LoginLockoutPolicy.perClient.lock(afterFailures: 6) == 120)
        #expect(LoginLockoutPolicy.perClient.lock(afterFailures: 7) == 240)
        #expect(LoginLockoutPolicy.perClient.lock(afterFailures: 8) == 480)
        #expect(LoginLockoutPolicy.perClient.lock(afterFailures: 9) == 960)
        #expect(LoginLockoutPolicy.perClient.lock(afterFailures: 10) == 1920)
        #expect(LoginLockoutPolicy.perClient.lock(afterFailures: 11) == 3600)
        #expect(LoginLockoutPolicy.perClient.lock(afterFailures: 12) == 3600)
        #expect(LoginLockoutPolicy.perClient.lock(afterFailures: Int.max) == 3600)
    }

    @Test func theNumbersCeilingIsTenClientsWorth() {
        #expect(LoginLockoutPolicy.perNumber.lock(afterFailures: 49) == nil)
        #expect(LoginLockoutPolicy.perNumber.lock(afterFailures: 50) == 900)
        #expect(LoginLockoutPolicy.perNumber.lock(afterFailures: 51) == 1800)
        #expect(LoginLockoutPolicy.perNumber.lock(afterFailures: Int.max) == 86_400)
        #expect(LoginLockoutPolicy.perAddress.lock(afterFailures: 99) == nil)
        #expect(LoginLockoutPolicy.perAddress.lock(afterFailures: 100) == 300)
    }

    /// Country codes are prefix-free (1 and 7; the two-digit list; three digits otherwise); +1 keeps its area code.
    @Test func defaultRangesOfNumbers() throws {
        let cases = ["+14155550100": "+1415", "+18765550100": "+1876", "+79161234567": "+7", "+447700900123": "+44",
                     "+8613800138000": "+86", "+88216123456": "+882", "+224621234567": "+224", "+35312345678": "+353", "+2712345678": "+27"]
        for (number, range) in cases { #expect(SMSDestinationRule.defaultRange(of: try MSISDN(number)) == range, "\(number)") }
        let rule = try SMSDestinationRule(parsing: "+44,+4477 +1628")
        #expect(rule.prefix(of: try MSISDN("+447700900123")) == "+4477")
        #expect(rule.prefix(of: try MSISDN("+441234567890")) == "+44")
        #expect(rule.prefix(of: try MSISDN("+14155550100")) == "+1415")
        #expect(rule.configuredPrefix(of: try MSISDN("+14155550100")) == nil)
        #expect(throws: RechargeError.self) { try SMSDestinationRule(parsing: "44") }
        #expect(throws: RechargeError.self) { try SMSDestinationRule(parsing: "+44x") }
    }

    @Test func budgetClaimsShareAnAlignedWindow() {
        let budget = SMSCodeBudget(perClient: 2, perPrefix: 3, global: 4)
        let at = Date(timeIntervalSince1970: 7200 + 1234)
        let claims = budget.claims(client: "192.0.2.1", prefix: "+1415", now: at)
        #expect(claims.map(\.scope) == [.client, .prefix, .global])
        #expect(claims.map(\.subject) == ["client|192.0.2.1", "prefix|+1415", "global"])
        #expect(claims.map(\.limit) == [2, 3, 4])
        #expect(claims.allSatisfy { $0.windowStart == Date(timeIntervalSince1970: 7200) })
        #expect(SMSCodeBudget.allows(claims[0], used: 2))
        #expect(!SMSCodeBudget.allows(claims[0], used: 3))
    }

    @Test func verificationPurposeRoundTrips() {
        for purpose in VerificationPurpose.allCases {
            #expect(VerificationPurpose(rawValue: purpose.rawValue) == purpose)
        }
        #expect(VerificationPurpose.allCases.map(\.rawValue) == ["register", "password_reset", "add_line", "change_phone", "change_email"])
        #expect(VerificationPurpose(rawValue: "passwordReset") == nil)
    }
}

import Foundation
import Testing
@testable import RechargeCore

@Suite("Accounts")
struct AccountTests {
    @Test func noLockBelowFiveFailures() {
        for failures in 0..<5 { #expect(LoginLockoutPolicy.lock(afterFailures: failures) == nil) }
    }

    @Test func lockDoublesFromOneMinuteToOneHour() {
        #expect(LoginLockoutPolicy.lock(afterFailures: 5) == 60)
        #expect(LoginLockoutPolicy.lock(afterFailures: 6) == 120)
        #expect(LoginLockoutPolicy.lock(afterFailures: 7) == 240)
        #expect(LoginLockoutPolicy.lock(afterFailures: 8) == 480)
        #expect(LoginLockoutPolicy.lock(afterFailures: 9) == 960)
        #expect(LoginLockoutPolicy.lock(afterFailures: 10) == 1920)
        #expect(LoginLockoutPolicy.lock(afterFailures: 11) == 3600)
        #expect(LoginLockoutPolicy.lock(afterFailures: 12) == 3600)
        #expect(LoginLockoutPolicy.lock(afterFailures: Int.max) == 3600)
    }

    @Test func verificationPurposeRoundTrips() {
        for purpose in VerificationPurpose.allCases {
            #expect(VerificationPurpose(rawValue: purpose.rawValue) == purpose)
        }
        #expect(VerificationPurpose.allCases.map(\.rawValue) == ["register", "password_reset", "add_line", "change_phone", "change_email"])
        #expect(VerificationPurpose(rawValue: "passwordReset") == nil)
    }
}

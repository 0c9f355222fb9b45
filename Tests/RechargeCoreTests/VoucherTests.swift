import Foundation
import Testing
@testable import RechargeCore

private func digits(_ text: String) -> [UInt8] { text.utf8.map { $0 - 0x30 } }

@Suite("Voucher PINs")
struct VoucherPINTests {
    @Test func luhnMatchesTheTextbookExamples() {
        #expect(VoucherPIN.luhnCheckDigit(digits("7992739871")) == 3)
        // The ICCID used across the tests ends in its Luhn digit too.
        #expect(VoucherPIN.luhnCheckDigit(digits("890126012345678901")) == 1)
        #expect(VoucherPIN.luhnCheckDigit(digits("000000000000000")) == 0)
    }

    @Test func generatedPINsHaveTheLengthAndAValidCheckDigit() throws {
        var generator = SplitMix64(seed: 42)
        var seen = Set<String>()
        var digitCounts = [Int](repeating: 0, count: 10)
        for _ in 0..<2_000 {
            let pin = VoucherPIN.generate(using: &generator)
            #expect(pin.digits.count == 16)
            #expect(try VoucherPIN(parsing: pin.digits) == pin)
            for digit in digits(String(pin.digits.dropLast())) { digitCounts[Int(digit)] += 1 }
            seen.insert(pin.digits)
        }
        #expect(seen.count == 2_000)
        // 30,000 body digits: each digit value near 3,000 (a biased draw, e.g. modulo bias, would skew these).
        for count in digitCounts { #expect((2_700...3_300).contains(count), "\(digitCounts)") }
        let short = VoucherPIN.generate(length: 10, using: &generator)
        #expect(short.digits.count == 10 && (try? VoucherPIN(parsing: short.digits, length: 10)) != nil)
    }

    @Test func typingMistakesAreCaughtBeforeAnyLookup() throws {
        var generator = SplitMix64(seed: 7)
        let pin = VoucherPIN.generate(using: &generator)
        let grouped = stride(from: 0, to: 16, by: 4).map { start in
            String(pin.digits.dropFirst(start).prefix(4))
        }.joined(separator: " ")
        #expect(try VoucherPIN(parsing: grouped) == pin)
        #expect(try VoucherPIN(parsing: grouped.replacingOccurrences(of: " ", with: "-")) == pin)
        #expect(try VoucherPIN(parsingAnyLength: pin.digits) == pin)

        // Every single-digit error and every swap of two different neighbours (but 0↔9) is refused.
        var body = Array(pin.digits.utf8)
        for index in body.indices {
            let original = body[index]
            for replacement in UInt8(0x30)...UInt8(0x39) where replacement != original {
                body[index] = replacement
                #expect(throws: VoucherError.self) { try VoucherPIN(parsing: String(decoding: body, as: UTF8.self)) }
            }
            body[index] = original
        }
        for index in body.indices.dropLast() where body[index] != body[index + 1]
            && Set([body[index], body[index + 1]]) != Set([UInt8(0x30), UInt8(0x39)]) {
            body.swapAt(index, index + 1)
            #expect(throws: VoucherError.self) { try VoucherPIN(parsing: String(decoding: body, as: UTF8.self)) }
            body.swapAt(index, index + 1)
        }
        #expect(throws: VoucherError.malformedPIN("a PIN has only digits")) { try VoucherPIN(parsing: "1234x") }
        #expect(throws: VoucherError.self) { try VoucherPIN(parsing: String(pin.digits.dropLast())) }
        #expect(throws: VoucherError.self) { try VoucherPIN(parsingAnyLength: "12345") }
        #expect(!pin.description.contains(pin.digits))
    }
}

@Suite("Voucher lifecycle")
struct VoucherLifecycleTests {
    @Test func cardStates() {
        #expect(VoucherState.inactive.applying(.activate) == .active)
        #expect(VoucherState.suspended.applying(.activate) == .active)
        #expect(VoucherState.active.applying(.redeem) == .redeemed)
        #expect(VoucherState.inactive.applying(.redeem) == nil)
        #expect(VoucherState.redeemed.applying(.block) == nil)
        #expect(VoucherState.redeemed.applying(.activate) == nil)
        #expect(VoucherState.blocked.applying(.activate) == nil)
        #expect(VoucherState.active.applying(.suspend) == .suspended)
        #expect(VoucherState.inactive.applying(.suspend) == nil)
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(VoucherState.redeemed.redemptionRefusal(redeemedAt: at, maskedMSISDN: "+1••••••••23", expiresAt: at) == .alreadyRedeemed(at: at, maskedMSISDN: "+1••••••••23"))
        #expect(VoucherState.inactive.redemptionRefusal(redeemedAt: nil, maskedMSISDN: nil, expiresAt: at) == .notActive)
        #expect(VoucherState.blocked.redemptionRefusal(redeemedAt: nil, maskedMSISDN: nil, expiresAt: at) == .blocked)
        #expect(VoucherState.active.redemptionRefusal(redeemedAt: nil, maskedMSISDN: nil, expiresAt: at) == nil)
    }

    @Test func batchStates() throws {
        var state = VoucherBatchState.generating
        #expect(throws: VoucherError.illegalBatchTransition(batch: 1, from: .generating, action: "exported")) { try state.applying(.export, batch: 1) }
        state = try state.applying(.finishGeneration, batch: 1)
        #expect(throws: VoucherError.self) { try state.applying(.activate, batch: 1) }   // not printed yet
        state = try state.applying(.export, batch: 1)
        #expect(throws: VoucherError.self) { try state.applying(.export, batch: 1) }     // exported once
        #expect(throws: VoucherError.self) { try state.applying(.activate, batch: 1) }   // not in stock yet
        state = try state.applying(.receive, batch: 1)
        state = try state.applying(.activate, batch: 1)
        #expect(state == .active)
        #expect(try state.applying(.suspend, batch: 1) == .suspended)
        #expect(try VoucherBatchState.suspended.applying(.activate, batch: 1) == .active)
        state = try state.applying(.block, batch: 1)
        #expect(throws: VoucherError.self) { try state.applying(.activate, batch: 1) }
    }

    @Test func batchRequestsAreValidated() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let later = now.addingTimeInterval(86_400 * 365)
        let twenty = Money(micros: 20_000_000, currency: .usd)
        let request = try VoucherBatchRequest(denomination: .money(twenty), count: 1_000_000, expiresAt: later, createdBy: "alice", now: now)
        #expect(request.pinLength == 16)
        #expect(throws: VoucherError.self) { try VoucherBatchRequest(denomination: .money(twenty), count: 0, expiresAt: later, createdBy: "alice", now: now) }
        #expect(throws: VoucherError.self) { try VoucherBatchRequest(denomination: .money(twenty), count: 10, expiresAt: now, createdBy: "alice", now: now) }
        #expect(throws: VoucherError.self) { try VoucherBatchRequest(denomination: .money(.zero(.usd)), count: 10, expiresAt: later, createdBy: "alice", now: now) }
        #expect(throws: VoucherError.self) { try VoucherBatchRequest(denomination: .money(twenty), count: 10, expiresAt: later, pinLength: 6, createdBy: "alice", now: now) }
        #expect(throws: VoucherError.self) { try VoucherBatchRequest(denomination: .money(twenty), count: 10, expiresAt: later, createdBy: "  ", now: now) }
    }

    @Test func serialRanges() throws {
        let range = try VoucherSerialRange(parsing: "1000000100-1000000199")
        #expect(range.count == 100 && range.description == "1000000100-1000000199")
        #expect(try VoucherSerialRange(parsing: "1000000150").count == 1)
        #expect(range.contains(try VoucherSerialRange(parsing: "1000000150-1000000199")))
        #expect(!range.contains(try VoucherSerialRange(parsing: "1000000150-1000000200")))
        #expect(throws: VoucherError.self) { try VoucherSerialRange(parsing: "20-10") }
        #expect(throws: VoucherError.self) { try VoucherSerialRange(parsing: "a-b") }
        #expect(throws: VoucherError.self) { try VoucherSerialRange(parsing: "") }
    }

    @Test func dualApprovalThreshold() {
        let policy = VoucherApprovalPolicy(threshold: Money(micros: 1_000 * 1_000_000, currency: .usd))
        #expect(!policy.needsSecondApproval(Money(micros: 1_000 * 1_000_000, currency: .usd)))
        #expect(policy.needsSecondApproval(Money(micros: 1_000 * 1_000_000 + 1, currency: .usd)))
        #expect(policy.needsSecondApproval(Money(micros: 1, currency: .cny)))
    }

    @Test func maskedNumbers() {
        #expect(maskedMSISDN("+14155550123") == "+1••••••••23")
        #expect(maskedMSISDN("+8613800138000") == "+86•••••••••00")
    }
}

@Suite("Voucher brute-force policy")
struct VoucherGuessingPolicyTests {
    let policy = VoucherGuessingPolicy()
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func lockoutsGrowAndAreCapped() {
        #expect(policy.lockoutDuration(number: 1) == 15 * 60)
        #expect(policy.lockoutDuration(number: 2) == 30 * 60)
        #expect(policy.lockoutDuration(number: 3) == 60 * 60)
        #expect(policy.lockoutDuration(number: 7) == 16 * 3_600)
        #expect(policy.lockoutDuration(number: 8) == 24 * 3_600)
        #expect(policy.lockoutDuration(number: 40) == 24 * 3_600)
    }

    @Test func aLineIsLockedAfterFiveFailuresAndLongerEachTime() {
        var counter: VoucherGuardCounter?
        var now = start
        for attempt in 1...4 {
            counter = policy.recordingFailure(counter, subject: .line("+14155550100"), now: now)
            #expect(policy.lockedUntil(counter, now: now) == nil, "locked after \(attempt)")
            now += 10
        }
        counter = policy.recordingFailure(counter, subject: .line("+14155550100"), now: now)
        #expect(policy.lockedUntil(counter, now: now) == now.addingTimeInterval(15 * 60))
        #expect(policy.lockedUntil(counter, now: now.addingTimeInterval(15 * 60)) == nil)
        now += 15 * 60
        for _ in 1...5 { counter = policy.recordingFailure(counter, subject: .line("+14155550100"), now: now) }
        #expect(policy.lockedUntil(counter, now: now) == now.addingTimeInterval(30 * 60))
        // A week without failures forgets the lockouts.
        now += 8 * 86_400
        for _ in 1...5 { counter = policy.recordingFailure(counter, subject: .line("+14155550100"), now: now) }
        #expect(policy.lockedUntil(counter, now: now) == now.addingTimeInterval(15 * 60))
    }

    @Test func failuresSpreadOverHoursDoNotLock() {
        var counter: VoucherGuardCounter?
        for hour in 0..<10 {
            counter = policy.recordingFailure(counter, subject: .client("key-1"), now: start.addingTimeInterval(Double(hour) * 3_700))
        }
        #expect(counter?.lockouts == 0 && policy.lockedUntil(counter, now: start.addingTimeInterval(40_000)) == nil)
    }

    @Test func theChannelBreakerTripsOnASpike() {
        var counter: VoucherGuardCounter?
        for second in 0..<9 { counter = policy.recordingFailure(counter, subject: .channel("ussd"), now: start.addingTimeInterval(Double(second))) }
        #expect(policy.lockedUntil(counter, now: start.addingTimeInterval(9)) == nil)
        counter = policy.recordingFailure(counter, subject: .channel("ussd"), now: start.addingTimeInterval(9))
        #expect(policy.lockedUntil(counter, now: start.addingTimeInterval(9)) == start.addingTimeInterval(9 + 600))
    }

    /// With 16-digit PINs (10^15 valid ones) and a million live cards, an attacker guessing at the lockout rate
    /// for a year expects to find almost nothing: per line or client ~2·10^-6 cards, and even spread over
    /// unlimited lines and clients one channel's breaker holds them to ~2.4·10^-2 cards a year.
    @Test func anAttackerAtTheLockoutRateExpectsANegligibleNumberOfHits() {
        let year: TimeInterval = 365 * 86_400
        let perSubject = policy.guessesPerSubject(over: year)
        #expect((1_800...1_900).contains(perSubject), "\(perSubject)")   // 5 guesses per lockout; ~365 of 24 h plus the ramp-up
        let perSubjectHits = VoucherGuessingPolicy.expectedHits(guesses: perSubject, activeVouchers: 1_000_000, pinLength: 16)
        #expect(perSubjectHits < 1e-5, "\(perSubjectHits)")

        let perChannel = policy.guessesPerChannel(over: year)
        #expect(perChannel == 9 * 5 * 525_600)   // nine sources a minute, five failures each
        let perChannelHits = VoucherGuessingPolicy.expectedHits(guesses: perChannel, activeVouchers: 1_000_000, pinLength: 16)
        #expect(perChannelHits < 0.025, "\(perChannelHits)")

        // The same defence with 8-digit PINs would not be enough: the bound is what makes the PIN length matter.
        #expect(VoucherGuessingPolicy.expectedHits(guesses: perChannel, activeVouchers: 1_000_000, pinLength: 8) > 1)
    }
}

@Suite("Voucher guard tally")
struct VoucherGuardTallyTests {
    let policy = VoucherGuessingPolicy()
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func portal(_ line: String, account: Int) -> VoucherGuardAttempt {
        VoucherGuardAttempt(channel: "portal", line: line, client: "account:\(account)", clientKind: .endUser)
    }

    /// Attempts in flight hold room: the sixth of six undecided attempts on one line is refused before its PIN is checked.
    @Test func attemptsInFlightUseUpTheAllowance() {
        var tally = VoucherGuardTally(policy: policy, counters: [:], sources: [:])
        let attempt = portal("+14155550100", account: 1)
        for _ in 0..<5 { #expect(tally.admit(attempt, now: now) == nil) }
        #expect(tally.admit(attempt, now: now) == .lockedOut(subject: "line:+14155550100", until: now.addingTimeInterval(900)))
        // One of them was a good PIN: its room comes back.
        tally.settle(attempt, failed: false, now: now)
        #expect(tally.admit(attempt, now: now) == nil)
        for _ in 0..<5 { tally.settle(attempt, failed: true, now: now) }
        #expect(tally.counters["line:+14155550100"]?.lockedUntil == now.addingTimeInterval(900))
        #expect(tally.counters["client:account:1"]?.lockedUntil == now.addingTimeInterval(900))
        #expect(tally.counters["channel:portal"]?.failures == 1)
        #expect(tally.started.count == 2)
    }

    /// The breaker counts sources, not failures: one account's five failures are one; ten accounts trip it.
    @Test func theBreakerCountsDistinctSources() {
        var tally = VoucherGuardTally(policy: policy, counters: [:], sources: [:])
        for index in 0..<9 {
            let attempt = portal("+1415555\(String(format: "%04d", index))", account: index)
            for _ in 0..<5 {
                #expect(tally.admit(attempt, now: now) == nil)
                tally.settle(attempt, failed: true, now: now)
            }
        }
        #expect(tally.counters["channel:portal"]?.failures == 9 && tally.counters["channel:portal"]?.lockedUntil == nil)
        // A tenth source in flight holds the last room; an eleventh is refused until it is decided.
        let tenth = portal("+14155559999", account: 10)
        #expect(tally.admit(tenth, now: now) == nil)
        #expect(tally.admit(portal("+14155558888", account: 11), now: now) == .channelPaused(channel: "portal", until: now.addingTimeInterval(600)))
        tally.settle(tenth, failed: true, now: now)
        #expect(tally.counters["channel:portal"]?.lockedUntil == now.addingTimeInterval(600))
        #expect(tally.countedSources.count == 10)
    }

    /// A gateway (an API key) is not locked out as a client; the lines behind it are, and count as the breaker's sources.
    @Test func aGatewayIsNotAClient() {
        var tally = VoucherGuardTally(policy: policy, counters: [:], sources: [:])
        let attempt = VoucherGuardAttempt(channel: "ivr", line: "+14155550100", client: "key:3", clientKind: .gateway)
        #expect(attempt.subjects == [.channel("ivr"), .line("+14155550100")] && attempt.breakerSource == "line:+14155550100")
        #expect(tally.admit(attempt, now: now) == nil)
        tally.settle(attempt, failed: true, now: now)
        #expect(tally.counters["client:key:3"] == nil)
    }
}
